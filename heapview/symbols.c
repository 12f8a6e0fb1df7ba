/*
 * heapview/symbols.c - return addresses of the target to "function+0xoff
 * (file.c:12)", for allocation sites and history callers.
 *
 * A target address lies in one of the snapshot's regions (a mapping of a file,
 * copied from /proc/PID/maps or the core's NT_FILE note).  Its file offset is
 * region.offset + (addr - region.start); the PT_LOAD program header covering
 * that offset turns it into the file's virtual address, which is what the
 * symbol table (libelf: .symtab, else .dynsym, STT_FUNC) and the DWARF line
 * table (libdw, when the file has debug info) are keyed by.  A return address
 * points after the call, so lines are looked up at addr - 1.  Each file is
 * opened once per symboliser and its functions are kept sorted.
 */
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols.h"

struct hv_func { uint64_t lo, hi; const char *name; };

struct hv_symfile {
    char path[256];
    int fd;
    Elf *elf;
    Dwarf *dw;
    GElf_Phdr *ph; size_t nph;
    struct hv_func *fn; size_t nfn;
    char *names;                    /* storage for the names */
};

struct hv_symbols {
    const struct hv_region *reg; size_t nreg;
    struct hv_symfile *files; size_t nfiles;
};

struct hv_symbols *hv_symbols_new(const struct hv_region *reg, size_t nreg)
{
    struct hv_symbols *s = calloc(1, sizeof *s);
    if (s) {
        s->reg = reg;
        s->nreg = nreg;
    }
    return s;
}

static int cmp_fn(const void *a, const void *b)
{
    const struct hv_func *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void load_funcs(struct hv_symfile *f)
{
    for (int pass = 0; pass < 2 && f->nfn == 0; pass++) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(f->elf, scn))) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh) || sh.sh_type != (pass ? SHT_DYNSYM : SHT_SYMTAB) || !sh.sh_entsize)
                continue;
            Elf_Data *data = elf_getdata(scn, NULL);
            if (!data)
                continue;
            size_t n = sh.sh_size / sh.sh_entsize, total = 0;
            struct hv_func *fn = calloc(n ? n : 1, sizeof *fn);
            if (!fn)
                return;
            for (size_t i = 0; i < n; i++) {
                GElf_Sym sym;
                if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
                    continue;
                const char *nm = elf_strptr(f->elf, sh.sh_link, sym.st_name);
                if (!nm || !*nm)
                    continue;
                fn[total].lo = sym.st_value;
                fn[total].hi = sym.st_value + (sym.st_size ? sym.st_size : 1);
                fn[total].name = nm;    /* owned by the Elf handle */
                total++;
            }
            qsort(fn, total, sizeof *fn, cmp_fn);
            free(f->fn);
            f->fn = fn;
            f->nfn = total;
            break;
        }
    }
}

static struct hv_symfile *file_for(struct hv_symbols *s, const char *path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].path, path) == 0)
            return s->files[i].elf ? &s->files[i] : NULL;
    struct hv_symfile *nf = realloc(s->files, (s->nfiles + 1) * sizeof *nf);
    if (!nf)
        return NULL;
    s->files = nf;
    struct hv_symfile *f = &nf[s->nfiles++];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return NULL;
    elf_version(EV_CURRENT);
    f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
    if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
        if (f->elf)
            elf_end(f->elf);
        f->elf = NULL;
        close(f->fd);
        f->fd = -1;
        return NULL;
    }
    size_t nph = 0;
    if (elf_getphdrnum(f->elf, &nph) == 0 && nph > 0 && nph < 4096) {
        f->ph = calloc(nph, sizeof *f->ph);
        for (size_t i = 0; f->ph && i < nph; i++)
            if (gelf_getphdr(f->elf, (int)i, &f->ph[f->nph]) && f->ph[f->nph].p_type == PT_LOAD)
                f->nph++;
    }
    load_funcs(f);
    f->dw = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
    return f;
}

int hv_symbolise(struct hv_symbols *s, uint64_t addr, struct hv_symbol *out)
{
    memset(out, 0, sizeof *out);
    const struct hv_region *r = NULL;
    for (size_t i = 0; i < s->nreg; i++)
        if (addr >= s->reg[i].start && addr < s->reg[i].end) {
            r = &s->reg[i];
            break;
        }
    if (!r || r->path[0] != '/')
        return -1;
    const char *base = strrchr(r->path, '/');
    out->object = base ? base + 1 : r->path;
    struct hv_symfile *f = file_for(s, r->path);
    if (!f)
        return 0;
    uint64_t off = r->offset + (addr - r->start), vaddr = 0;
    int found = 0;
    for (size_t i = 0; i < f->nph; i++)
        if (off >= f->ph[i].p_offset && off < f->ph[i].p_offset + f->ph[i].p_filesz) {
            vaddr = f->ph[i].p_vaddr + (off - f->ph[i].p_offset);
            found = 1;
            break;
        }
    if (!found)
        return 0;
    out->vaddr = vaddr;
    /* last function starting at or below vaddr that contains it */
    size_t lo = 0, hi = f->nfn;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->fn[mid].lo <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k-- > 0 && lo - k < 8;)
        if (vaddr < f->fn[k].hi) {
            out->function = f->fn[k].name;
            out->offset = vaddr - f->fn[k].lo;
            break;
        }
    if (f->dw && vaddr) {
        Dwarf_Die cu;
        if (dwarf_addrdie(f->dw, vaddr - 1, &cu)) {
            Dwarf_Line *line = dwarf_getsrc_die(&cu, vaddr - 1);
            int ln = 0;
            if (line && dwarf_lineno(line, &ln) == 0 && ln > 0) {
                const char *src = dwarf_linesrc(line, NULL, NULL);
                if (src) {
                    const char *b = strrchr(src, '/');
                    out->file = b ? b + 1 : src;
                    out->line = ln;
                }
            }
        }
    }
    return 0;
}

const char *hv_symbol_text(struct hv_symbols *s, uint64_t addr, char *buf, size_t len)
{
    struct hv_symbol sym;
    if (hv_symbolise(s, addr, &sym) < 0 || !sym.object) {
        snprintf(buf, len, "0x%llx", (unsigned long long)addr);
        return buf;
    }
    int n;
    if (sym.function)
        n = snprintf(buf, len, "%s+0x%llx", sym.function, (unsigned long long)sym.offset);
    else
        n = snprintf(buf, len, "%s+0x%llx", sym.object, (unsigned long long)sym.vaddr);
    if (sym.file && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (%s:%d)", sym.file, sym.line);
    return buf;
}

const char *hv_symbol_function(struct hv_symbols *s, uint64_t addr, char *buf, size_t len)
{
    struct hv_symbol sym;
    if (hv_symbolise(s, addr, &sym) == 0 && sym.function)
        snprintf(buf, len, "%s", sym.function);
    else if (sym.object)
        snprintf(buf, len, "%s+0x%llx", sym.object, (unsigned long long)sym.vaddr);
    else
        snprintf(buf, len, "0x%llx", (unsigned long long)addr);
    return buf;
}

void hv_symbols_free(struct hv_symbols *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfiles; i++) {
        struct hv_symfile *f = &s->files[i];
        if (f->dw)
            dwarf_end(f->dw);
        free(f->fn);
        free(f->ph);
        if (f->elf)
            elf_end(f->elf);
        if (f->fd >= 0)
            close(f->fd);
    }
    free(s->files);
    free(s);
}
