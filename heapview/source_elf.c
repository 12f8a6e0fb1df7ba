/*
 * heapview/source_elf.c - symbol lookup in an ELF file with libelf (used by both
 * sources to find liballoc_debug in liballoc.so or in a static executable).
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_impl.h"

static int find_in(Elf *e, Elf64_Word type, const char *name, uint64_t *value)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || sh.sh_entsize == 0)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d)
            continue;
        size_t n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym))
                break;
            if (sym.st_shndx == SHN_UNDEF || GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
                continue;
            const char *s = elf_strptr(e, sh.sh_link, sym.st_name);
            if (s && strcmp(s, name) == 0) {
                *value = sym.st_value;
                return 0;
            }
        }
    }
    return -1;
}

int hv_elf_symbol(const char *path, const char *name, uint64_t *value, uint64_t *base_vaddr,
                  char *why, size_t whylen)
{
    int rc = -1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %m", path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!e || elf_kind(e) != ELF_K_ELF) {
        snprintf(why, whylen, "%s is not an ELF file", path);
        goto out;
    }
    size_t nph = 0;
    int have_base = 0;
    if (elf_getphdrnum(e, &nph) == 0) {
        for (size_t i = 0; i < nph; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
                *base_vaddr = (ph.p_vaddr - ph.p_offset) & ~(uint64_t)4095;
                have_base = 1;
                break;
            }
        }
    }
    if (!have_base) {
        snprintf(why, whylen, "%s has no loadable segment", path);
        goto out;
    }
    if (find_in(e, SHT_SYMTAB, name, value) == 0 || find_in(e, SHT_DYNSYM, name, value) == 0)
        rc = 0;
    else
        snprintf(why, whylen, "no symbol %s in %s", name, path);
out:
    if (e)
        elf_end(e);
    close(fd);
    return rc;
}
