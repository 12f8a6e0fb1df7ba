#!/usr/bin/env python3
"""fuzz/mkseed.py CORE OUT - shrink a core file into a fuzzing seed.

Keeps the ELF header, the program headers and the notes, and the bytes of the
writable PT_LOAD segments up to 256 KiB (heaps, .data/.bss with liballoc_debug,
liballoc's metadata pages); larger or read-only segments keep at most their
first 16 KiB (an mmapped chunk's header) or nothing.  p_filesz says what is kept,
so the result is a valid core with fewer dumped pages."""
import struct, sys

src, dst = sys.argv[1], sys.argv[2]
b = open(src, 'rb').read()
assert b[:4] == b'\x7fELF' and b[4] == 2, 'not a 64-bit ELF'
phoff, = struct.unpack_from('<Q', b, 32)
phentsize, phnum = struct.unpack_from('<HH', b, 54)
out = bytearray(b[:phoff + phentsize * phnum])
phdrs = []
for i in range(phnum):
    ph = list(struct.unpack_from('<IIQQQQQQ', b, phoff + i * phentsize))
    phdrs.append(ph)
# notes first, then segments, each 16-aligned
for i, ph in enumerate(phdrs):
    ptype, flags, off, vaddr, paddr, filesz, memsz, align = ph
    if ptype == 4:          # PT_NOTE
        keep = filesz
    elif ptype == 1:        # PT_LOAD
        if flags & 2 and filesz <= 256 * 1024:
            keep = filesz
        elif flags & 2:
            keep = min(filesz, 16384)
        else:
            keep = 0
    else:
        keep = 0
    while len(out) % 16:
        out.append(0)
    newoff = len(out)
    out += b[off:off + keep]
    ph[2], ph[5] = newoff, keep
for i, ph in enumerate(phdrs):
    struct.pack_into('<IIQQQQQQ', out, phoff + i * phentsize, *ph)
open(dst, 'wb').write(out)
print(f'{dst}: {len(out)} bytes (from {len(b)})')
