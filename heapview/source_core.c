/*
 * heapview/source_core.c - the core-file source (libelf).
 *
 * The core is mapped privately and opened with elf_memory().  PT_LOAD headers
 * become regions (bytes past p_filesz were not dumped and read as absent); the
 * notes give the threads (NT_PRSTATUS: tid, rip, rsp) and the file mappings
 * (NT_FILE: start, end, page offset, path).  liballoc_debug is found by symbol:
 * in EXECUTABLE when given (bias from the NT_FILE entry with the same base name,
 * 0 for a non-PIE executable), else in a mapped liballoc*.so, else in any other
 * mapped file (a static executable), bias = mapping start - first PT_LOAD page;
 * the magic must be at the result.  Failing that, writable segments are scanned
 * for the magic, and the snapshot says so.  A core is frozen: stop/resume do
 * nothing.  Every offset and size read from the file is bounds-checked (the
 * fuzzer in fuzz/ feeds this reader arbitrary bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debug_abi.h"
#include "source_impl.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

struct seg {
    uint64_t vaddr, memsz, filesz, offset;
};

struct nfile {
    uint64_t start, end, pgoff;
    const char *path;           /* points into the note data (NUL-checked) */
};

struct core {
    struct hv_source base;
    const unsigned char *buf;
    size_t len;
    int owned;
    Elf *elf;
    struct seg *segs;           /* sorted by vaddr */
    size_t nsegs;
    struct nfile *files;
    size_t nfiles;
    struct hv_thread *thr;
    size_t nthr;
};

static int core_stop(struct hv_source *src, struct hv_error *err) { (void)src; (void)err; return 0; }
static void core_resume(struct hv_source *src) { src->last_stop_ns = 0; }
static int core_regions(struct hv_source *src, struct hv_error *err) { (void)src; (void)err; return 0; }
static int core_alive(struct hv_source *src) { (void)src; return 1; }

static int core_threads(struct hv_source *src, struct hv_error *err)
{
    struct core *C = (struct core *)src;
    src->nthreads = 0;
    for (size_t i = 0; i < C->nthr; i++)
        if (hv_src_add_thread(src, &C->thr[i]) < 0)
            return hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
    return 0;
}

static ssize_t core_read(struct hv_source *src, uint64_t addr, void *buf, size_t len)
{
    struct core *C = (struct core *)src;
    size_t done = 0;
    while (done < len) {
        uint64_t a = addr + done;
        /* last segment with vaddr <= a */
        size_t lo = 0, hi = C->nsegs;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (C->segs[mid].vaddr <= a)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            break;
        const struct seg *s = &C->segs[lo - 1];
        uint64_t in = a - s->vaddr;
        if (in >= s->filesz)
            break;
        size_t n = len - done;
        if (n > s->filesz - in)
            n = (size_t)(s->filesz - in);
        memcpy((char *)buf + done, C->buf + s->offset + in, n);
        done += n;
    }
    return (ssize_t)done;
}

static void core_close(struct hv_source *src)
{
    struct core *C = (struct core *)src;
    if (C->elf)
        elf_end(C->elf);
    if (C->owned == 1)
        munmap((void *)C->buf, C->len);
    else if (C->owned == 2)
        free((void *)C->buf);
    free(C->segs);
    free(C->files);
    free(C->thr);
    hv_src_free_common(src);
    free(C);
}

static const struct hv_source_ops core_ops = {
    core_stop, core_resume, core_regions, core_read, core_threads, core_alive, core_close,
};

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* ---- notes ----------------------------------------------------------------------------- */

static void parse_prstatus(struct core *C, const unsigned char *d, size_t n)
{
    /* struct elf_prstatus (x86-64): pr_pid at 32, pr_reg (27 x 8) at 112. */
    if (n < 112 + 27 * 8 || C->nthr >= 65536)
        return;
    int32_t pid;
    uint64_t rip, rsp;
    memcpy(&pid, d + 32, 4);
    memcpy(&rip, d + 112 + 16 * 8, 8);
    memcpy(&rsp, d + 112 + 19 * 8, 8);
    struct hv_thread *t = realloc(C->thr, (C->nthr + 1) * sizeof *t);
    if (!t)
        return;
    C->thr = t;
    t[C->nthr].tid = (uint64_t)(uint32_t)pid;
    t[C->nthr].ip = rip;
    t[C->nthr].sp = rsp;
    if (C->nthr == 0)
        C->base.pid = pid;
    C->nthr++;
}

static void parse_nt_file(struct core *C, const unsigned char *d, size_t n)
{
    if (n < 16 || C->files)
        return;
    uint64_t count, pagesz;
    memcpy(&count, d, 8);
    memcpy(&pagesz, d + 8, 8);
    if (count == 0 || count > (n - 16) / 24 || pagesz == 0 || pagesz > (1u << 30))
        return;
    C->files = calloc(count, sizeof *C->files);
    if (!C->files)
        return;
    const unsigned char *names = d + 16 + count * 24, *end = d + n;
    for (uint64_t i = 0; i < count; i++) {
        if (names >= end)
            break;
        const unsigned char *z = memchr(names, 0, (size_t)(end - names));
        if (!z)
            break;
        struct nfile *f = &C->files[C->nfiles];
        memcpy(&f->start, d + 16 + i * 24, 8);
        memcpy(&f->end, d + 16 + i * 24 + 8, 8);
        memcpy(&f->pgoff, d + 16 + i * 24 + 16, 8);
        f->pgoff *= pagesz;
        f->path = (const char *)names;
        C->nfiles++;
        names = z + 1;
    }
}

static void parse_notes(struct core *C, const GElf_Phdr *ph)
{
    Elf_Data *data = elf_getdata_rawchunk(C->elf, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_NHDR);
    if (!data || !data->d_buf)
        return;
    size_t off = 0;
    GElf_Nhdr nh;
    size_t name_off, desc_off;
    while (off < data->d_size) {
        size_t next = gelf_getnote(data, off, &nh, &name_off, &desc_off);
        if (next == 0 || next <= off)
            break;
        const unsigned char *base = data->d_buf;
        const unsigned char *desc = base + desc_off;
        if (desc_off + nh.n_descsz <= data->d_size) {
            if (nh.n_type == NT_PRSTATUS)
                parse_prstatus(C, desc, nh.n_descsz);
            else if (nh.n_type == NT_FILE)
                parse_nt_file(C, desc, nh.n_descsz);
        }
        off = next;
    }
}

/* ---- liballoc_debug ------------------------------------------------------------------ */

static int try_sym(struct core *C, const char *label, const char *open_path, uint64_t map_start,
                   int have_map, char *why, size_t whylen)
{
    uint64_t value = 0, base = 0;
    if (hv_elf_symbol(open_path, LA_DEBUG_SYMBOL, &value, &base, why, whylen) < 0)
        return -1;
    uint64_t bias = have_map ? map_start - base : 0;
    uint64_t addr = value + bias;
    if (!hv_src_magic_at(&C->base, addr)) {
        snprintf(why, whylen, "%s's %s does not point at liballoc metadata in this core (file differs, "
                 "or its memory was not dumped)", label, LA_DEBUG_SYMBOL);
        return -1;
    }
    C->base.debug_addr = addr;
    snprintf(C->base.debug_how, sizeof C->base.debug_how, "symbol %s in %s (load bias 0x%llx)",
             LA_DEBUG_SYMBOL, label, (unsigned long long)bias);
    return 0;
}

static const struct nfile *file_by_base(struct core *C, const char *name)
{
    for (size_t i = 0; i < C->nfiles; i++)
        if (C->files[i].pgoff == 0 && strcmp(base_name(C->files[i].path), name) == 0)
            return &C->files[i];
    return NULL;
}

static int find_debug(struct core *C, const char *exe, int allow_files, struct hv_error *err)
{
    char why[600] = "";
    if (exe) {
        const struct nfile *f = file_by_base(C, base_name(exe));
        if (try_sym(C, exe, exe, f ? f->start : 0, f != NULL, why, sizeof why) == 0)
            return 0;
    }
    if (allow_files) {
        for (int pass = 0; pass < 2; pass++) {
            size_t tried = 0;
            for (size_t i = 0; i < C->nfiles && tried < 64; i++) {
                const struct nfile *f = &C->files[i];
                if (f->pgoff != 0 || f->path[0] != '/')
                    continue;
                const char *b = base_name(f->path);
                int lib = strncmp(b, "liballoc", 8) == 0 && strstr(b, ".so");
                if (lib != (pass == 0))
                    continue;
                if (pass == 1 && (strncmp(b, "libc.so", 7) == 0 || strncmp(b, "ld-linux", 8) == 0))
                    continue;
                int dup = 0;
                for (size_t j = 0; j < i; j++)
                    if (C->files[j].pgoff == 0 && strcmp(C->files[j].path, f->path) == 0)
                        dup = 1;
                if (dup)
                    continue;
                tried++;
                char w2[600];
                if (try_sym(C, f->path, f->path, f->start, 1, w2, sizeof w2) == 0)
                    return 0;
                if (pass == 0 || !why[0])
                    snprintf(why, sizeof why, "%s", w2);
            }
        }
    }
    uint64_t a = hv_src_scan_magic(&C->base);
    if (a) {
        C->base.debug_addr = a;
        snprintf(C->base.debug_how, sizeof C->base.debug_how,
                 "found by scanning writable memory for the liballoc magic (no usable symbol%s%.280s)",
                 why[0] ? ": " : "", why);
        return 0;
    }
    return hv_fail(err, HV_EXIT_NOLIB,
                   "%s: the process did not use liballoc (no %s symbol and no liballoc metadata in "
                   "the dumped memory)",
                   C->base.describe, LA_DEBUG_SYMBOL);
}

/* ---- opening ------------------------------------------------------------------------- */

struct hv_source *hv_source_open_core_mem(const void *buf, size_t len, int owned, const char *name,
                                          const char *exe, int allow_files, struct hv_error *err)
{
    struct core *C = calloc(1, sizeof *C);
    if (!C) {
        if (owned == 1)
            munmap((void *)buf, len);
        else if (owned == 2)
            free((void *)buf);
        hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    C->base.ops = &core_ops;
    C->base.kind = HV_SOURCE_CORE;
    C->buf = buf;
    C->len = len;
    C->owned = owned;
    snprintf(C->base.describe, sizeof C->base.describe, "core %s", name);

    elf_version(EV_CURRENT);
    const unsigned char *b = buf;
    if (len < 4 || memcmp(b, ELFMAG, SELFMAG) != 0) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file", name);
        goto fail;
    }
    if (len < EI_NIDENT || b[EI_CLASS] != ELFCLASS64 || b[EI_DATA] != ELFDATA2LSB) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: core from another architecture (%s, %s); heapview reads x86-64 cores",
                name, len >= EI_NIDENT && b[EI_CLASS] == ELFCLASS32 ? "32-bit" : "not 64-bit",
                len >= EI_NIDENT && b[EI_DATA] == ELFDATA2MSB ? "big-endian" : "little-endian");
        goto fail;
    }
    if (len < sizeof(Elf64_Ehdr)) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: truncated core (%zu bytes, shorter than an ELF header)", name, len);
        goto fail;
    }
    C->elf = elf_memory((char *)buf, len);
    if (!C->elf || elf_kind(C->elf) != ELF_K_ELF) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file", name);
        goto fail;
    }
    GElf_Ehdr eh;
    if (!gelf_getehdr(C->elf, &eh)) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file (%s)", name, elf_errmsg(-1));
        goto fail;
    }
    if (eh.e_type != ET_CORE) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file (ELF type %u, not ET_CORE)", name,
                (unsigned)eh.e_type);
        goto fail;
    }
    if (eh.e_machine != EM_X86_64) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: core from another architecture (ELF machine %u); heapview "
                "reads x86-64 cores", name, (unsigned)eh.e_machine);
        goto fail;
    }
    size_t nph = 0;
    if (elf_getphdrnum(C->elf, &nph) != 0 || eh.e_phoff > len ||
        nph > (len - eh.e_phoff) / sizeof(Elf64_Phdr)) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: truncated core (program headers past the end of the file)", name);
        goto fail;
    }
    if (nph == 0) {
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file (no program headers)", name);
        goto fail;
    }
    C->segs = calloc(nph, sizeof *C->segs);
    if (!C->segs) {
        hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(C->elf, (int)i, &ph))
            continue;
        if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
            hv_fail(err, HV_EXIT_BADCORE, "%s: truncated core (segment %zu at 0x%llx needs file bytes up to "
                    "%llu, the file has %zu)", name, i, (unsigned long long)ph.p_vaddr,
                    (unsigned long long)(ph.p_offset + ph.p_filesz), len);
            goto fail;
        }
        if (ph.p_type == PT_NOTE) {
            parse_notes(C, &ph);
        } else if (ph.p_type == PT_LOAD && ph.p_memsz > 0 && ph.p_vaddr + ph.p_memsz > ph.p_vaddr) {
            struct seg *s = &C->segs[C->nsegs++];
            s->vaddr = ph.p_vaddr;
            s->memsz = ph.p_memsz;
            s->filesz = ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz;
            s->offset = ph.p_offset;
            struct hv_region r;
            memset(&r, 0, sizeof r);
            r.start = ph.p_vaddr;
            r.end = ph.p_vaddr + ph.p_memsz;
            r.prot = (ph.p_flags & PF_R ? HV_PROT_R : 0) | (ph.p_flags & PF_W ? HV_PROT_W : 0) |
                     (ph.p_flags & PF_X ? HV_PROT_X : 0);
            r.readable = s->filesz > 0;
            if (hv_src_add_region(&C->base, &r) < 0) {
                hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
                goto fail;
            }
        }
    }
    if (C->nsegs > 1)
        qsort(C->segs, C->nsegs, sizeof *C->segs, seg_cmp);
    hv_src_sort_regions(&C->base);
    /* Name the regions after the files mapped there. */
    for (size_t i = 0; i < C->nfiles; i++)
        for (size_t j = 0; j < C->base.nregions; j++) {
            struct hv_region *r = &C->base.regions[j];
            if (r->start >= C->files[i].start && r->start < C->files[i].end && !r->path[0]) {
                snprintf(r->path, sizeof r->path, "%s", C->files[i].path);
                r->offset = C->files[i].pgoff + (r->start - C->files[i].start);   /* for symbols.c */
            }
        }
    /* File mappings the core holds no bytes of (gdb's gcore leaves out code):
     * regions that cannot be read, kept so that code addresses can be
     * symbolised (symbols.c). */
    size_t nload = C->base.nregions;
    for (size_t i = 0; i < C->nfiles; i++) {
        const struct nfile *f = &C->files[i];
        int overlaps = f->end <= f->start;
        for (size_t j = 0; j < nload && !overlaps; j++)
            overlaps = C->base.regions[j].start < f->end && f->start < C->base.regions[j].end;
        if (overlaps)
            continue;
        struct hv_region r;
        memset(&r, 0, sizeof r);
        r.start = f->start;
        r.end = f->end;
        r.offset = f->pgoff;
        r.readable = 0;
        snprintf(r.path, sizeof r.path, "%s", f->path);
        if (hv_src_add_region(&C->base, &r) < 0) {
            hv_fail(err, HV_EXIT_INTERNAL, "out of memory");
            goto fail;
        }
    }
    if (C->base.nregions != nload)
        hv_src_sort_regions(&C->base);
    if (C->base.pid)
        snprintf(C->base.describe, sizeof C->base.describe, "core %s (pid %d)", name, (int)C->base.pid);
    if (find_debug(C, exe, allow_files, err) < 0)
        goto fail;
    return &C->base;
fail:
    core_close(&C->base);
    return NULL;
}

struct hv_source *hv_source_open_core(const char *core_path, const char *exe_path, struct hv_error *err)
{
    int fd = open(core_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        hv_fail(err, errno == EACCES ? HV_EXIT_PERM : HV_EXIT_NOPROC, "cannot open core file %s: %s",
                core_path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file (not a regular file)", core_path);
        return NULL;
    }
    if (exe_path && access(exe_path, R_OK) != 0) {
        close(fd);
        hv_fail(err, HV_EXIT_NOPROC, "cannot open executable %s: %s", exe_path, strerror(errno));
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        hv_fail(err, HV_EXIT_BADCORE, "%s: not an ELF core file (empty)", core_path);
        return NULL;
    }
    void *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (buf == MAP_FAILED) {
        hv_fail(err, HV_EXIT_INTERNAL, "cannot map %s: %s", core_path, strerror(errno));
        return NULL;
    }
    return hv_source_open_core_mem(buf, len, 1, core_path, exe_path, 1, err);
}
