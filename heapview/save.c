/*
 * heapview/save.c - `heapview -p PID --save FILE`: a saved snapshot.
 *
 * A saved snapshot is a small ELF core file, so every reader of cores reads it
 * (--diff, --leaks, --history, --explain, --dump, the interactive view) and
 * nothing has to learn a second format.  While the target is stopped (one
 * hv_source_stop/resume pair, as for a snapshot), hv_save_core() writes:
 *   - one PT_LOAD per mapped region; the bytes of every readable region that is
 *     writable or not backed by a file (heap, arenas, liballoc's metadata, the
 *     sites table and history ring, stacks, .data/.bss) -- the rest (code and
 *     read-only file data) gets p_filesz 0 and is read from the files, as a
 *     core of gcore's is;
 *   - a PT_NOTE with NT_PRSTATUS per thread (tid, rip, rsp) and NT_FILE (the file
 *     mappings with offsets and paths), which source_core.c uses to find
 *     liballoc_debug by symbol and to symbolise allocation sites.
 * A region that reads short (e.g. [vvar]) keeps the bytes read and the rest is
 * absent, as past p_filesz in any core.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "save.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

struct buf {
    unsigned char *p;
    size_t n, cap;
};

static int put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n + 8 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 4096;
        while (c < b->n + n + 8)
            c *= 2;
        unsigned char *q = realloc(b->p, c);
        if (!q)
            return -1;
        b->p = q;
        b->cap = c;
    }
    if (d)
        memcpy(b->p + b->n, d, n);
    else
        memset(b->p + b->n, 0, n);
    b->n += n;
    return 0;
}

static int note(struct buf *b, uint32_t type, const void *desc, size_t len)
{
    Elf64_Nhdr h = { 5, (Elf64_Word)len, type };
    int r = put(b, &h, sizeof h) | put(b, "CORE\0\0\0", 8) | put(b, desc, len);
    size_t pad = (4 - len % 4) % 4;
    return r | (pad ? put(b, NULL, pad) : 0);
}

static int dumped(const struct hv_region *r)
{
    return r->readable && (r->prot & HV_PROT_R) && ((r->prot & HV_PROT_W) || r->path[0] != '/');
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int write_core(struct hv_source *src, FILE *f, const char *path, struct hv_error *err)
{
    const struct hv_region *rg;
    const struct hv_thread *th;
    size_t nr, nt;
    if (hv_source_regions(src, &rg, &nr, err) < 0 || hv_source_threads(src, &th, &nt, err) < 0)
        return -1;
    /* the notes */
    struct buf nb = { 0 }, fb = { 0 };
    int bad = 0;
    for (size_t i = 0; i < nt; i++) {
        struct elf_prstatus ps;
        memset(&ps, 0, sizeof ps);
        ps.pr_pid = (pid_t)th[i].tid;
        ps.pr_reg[16] = th[i].ip;       /* RIP */
        ps.pr_reg[19] = th[i].sp;       /* RSP */
        bad |= note(&nb, NT_PRSTATUS, &ps, sizeof ps);
    }
    uint64_t nfiles = 0, pg = (uint64_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < nr; i++)
        nfiles += rg[i].path[0] == '/';
    uint64_t hdr[2] = { nfiles, pg };
    bad |= put(&fb, hdr, sizeof hdr);
    for (size_t i = 0; i < nr; i++)
        if (rg[i].path[0] == '/') {
            uint64_t e[3] = { rg[i].start, rg[i].end, rg[i].offset / pg };
            bad |= put(&fb, e, sizeof e);
        }
    for (size_t i = 0; i < nr; i++)
        if (rg[i].path[0] == '/')
            bad |= put(&fb, rg[i].path, strlen(rg[i].path) + 1);
    bad |= note(&nb, NT_FILE, fb.p, fb.n);
    free(fb.p);
    if (bad) {
        free(nb.p);
        return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
    }

    /* the headers: contents follow in region order, after the notes */
    size_t nph = nr + 1;
    Elf64_Phdr *ph = calloc(nph, sizeof *ph);
    unsigned char *chunk = malloc(1 << 20);
    if (!ph || !chunk) {
        free(ph);
        free(chunk);
        free(nb.p);
        return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
    }
    uint64_t off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
    ph[0].p_type = PT_NOTE;
    ph[0].p_offset = off;
    ph[0].p_filesz = nb.n;
    ph[0].p_align = 4;
    off += nb.n;
    off = (off + pg - 1) / pg * pg;
    /* p_filesz is what was read: measure it while writing, then rewrite the headers */
    Elf64_Ehdr eh;
    memset(&eh, 0, sizeof eh);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof eh;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = (Elf64_Half)nph;
    int r = -1;
    if (nph > 0xfff0) {
        hv_fail(err, HV_EXIT_INTERNAL, "too many regions to save (%zu)", nr);
        goto out;
    }
    if (write_all(f, &eh, sizeof eh) || write_all(f, ph, nph * sizeof *ph) || write_all(f, nb.p, nb.n) ||
        fseeko(f, (off_t)off, SEEK_SET) != 0)
        goto ioerr;
    for (size_t i = 0; i < nr; i++) {
        Elf64_Phdr *p = &ph[1 + i];
        p->p_type = PT_LOAD;
        p->p_vaddr = rg[i].start;
        p->p_memsz = rg[i].end - rg[i].start;
        p->p_flags = ((rg[i].prot & HV_PROT_R) ? PF_R : 0) | ((rg[i].prot & HV_PROT_W) ? PF_W : 0) |
                     ((rg[i].prot & HV_PROT_X) ? PF_X : 0);
        p->p_align = pg;
        p->p_offset = off;
        if (!dumped(&rg[i]))
            continue;
        for (uint64_t a = rg[i].start; a < rg[i].end;) {
            size_t want = rg[i].end - a < (1u << 20) ? (size_t)(rg[i].end - a) : (1u << 20);
            ssize_t got = hv_source_read(src, a, chunk, want);
            if (got <= 0)
                break;
            if (write_all(f, chunk, (size_t)got))
                goto ioerr;
            a += (uint64_t)got;
            p->p_filesz += (uint64_t)got;
            if ((size_t)got < want)
                break;
        }
        off += p->p_filesz;
    }
    if (fseeko(f, (off_t)sizeof eh, SEEK_SET) != 0 || write_all(f, ph, nph * sizeof *ph))
        goto ioerr;
    r = 0;
    goto out;
ioerr:
    hv_fail(err, HV_EXIT_INTERNAL, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
out:
    free(ph);
    free(chunk);
    free(nb.p);
    return r;
}

int hv_save_core(struct hv_source *src, const char *path, struct hv_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return hv_fail(err, errno == EACCES ? HV_EXIT_PERM : HV_EXIT_NOPROC, "cannot create %s: %s", path,
                       strerror(errno));
    int r = -1;
    if (hv_source_stop(src, err) == 0) {
        r = write_core(src, f, path, err);
        hv_source_resume(src);
    }
    if (fclose(f) != 0 && r == 0)
        r = hv_fail(err, HV_EXIT_INTERNAL, "cannot write %s: %s", path, strerror(errno));
    if (r < 0)
        unlink(path);
    return r;
}
