/*
 * shared/layout.h - chunk layout and chunk arithmetic, shared by liballoc and heapview.
 *
 * Everything here is a constant or a small inline function on plain values
 * (sizes, addresses as uintptr_t).  Nothing dereferences memory, so heapview can
 * decode a header or a safe-linked pointer copied out of another process with the
 * very same arithmetic liballoc used to write it.
 *
 * A chunk (x86-64, 16-byte alignment, 8 bytes of overhead per in-use chunk):
 *
 *   chunk -> +0   prev_size   size of the previous chunk, valid only while that
 *                             chunk is free (otherwise its user data lives here)
 *            +8   size        chunk size | NON_MAIN_ARENA | IS_MMAPPED | PREV_INUSE
 *   mem   -> +16  user data   when free: fd, bk (bins), fd_nextsize, bk_nextsize
 *                             (large bins); tcache: next (safe-linked), key;
 *                             fastbins: fd (safe-linked)
 *   next  -> +size
 *
 * Bins (ptmalloc2 numbering): bin 1 is the unsorted bin, bins 2..63 are small
 * bins holding exactly one size each (32..1008), bins 64..126 are large bins
 * kept sorted by size.  Fastbins 0..9 hold chunk sizes 32..176 (only those up to
 * the mxfast tunable are used).  tcache bins 0..63 hold chunk sizes 32..1040.
 */
#ifndef LA_SHARED_LAYOUT_H
#define LA_SHARED_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define LA_SIZE_SZ          8u
#define LA_ALIGNMENT        16u
#define LA_ALIGN_MASK       (LA_ALIGNMENT - 1u)
#define LA_CHUNK_HDR        16u          /* prev_size + size */
#define LA_MINSIZE          32u          /* smallest chunk */

#define LA_PREV_INUSE       0x1u
#define LA_IS_MMAPPED       0x2u
#define LA_NON_MAIN_ARENA   0x4u
#define LA_SIZE_FLAGS       0x7u

#define LA_NBINS            128          /* bin 0 unused, 1 unsorted, 2..63 small, 64..126 large */
#define LA_NSMALLBINS       64
#define LA_MIN_LARGE_SIZE   1024u        /* first chunk size that goes to a large bin */
#define LA_BIN_UNSORTED     1
#define LA_BINMAP_WORDS     4            /* 4 x 32 bits, one bit per bin */

#define LA_NFASTBINS        10
#define LA_DEFAULT_MXFAST   128u         /* request bytes; chunk sizes up to 128 */
#define LA_MAX_MXFAST       160u         /* largest value M_MXFAST accepts */

#define LA_TCACHE_BINS      64
#define LA_TCACHE_FILL      7u           /* glibc's entries per tcache bin; the least any bin holds */
#define LA_TCACHE_COUNT_DEFAULT 32u      /* tcache_count: most entries per bin */
#define LA_TCACHE_BYTES_DEFAULT 8192u    /* tcache_bytes: a bin's byte budget (0 = flat tcache_count) */
#define LA_TCACHE_MAX_BYTES 1032u        /* largest request served by the tcache */
#define LA_TCACHE_FILL_MAX  65535u       /* counts are uint16_t */

#define LA_HEAP_MAX         (64ul << 20) /* non-main heaps: reserved and aligned to 64 MiB */
#define LA_HEAP_MIN         (32ul << 10)

#define LA_MMAP_THRESHOLD_DEFAULT (128ul << 10)
#define LA_MMAP_THRESHOLD_MAX     (32ul << 20)
#define LA_TRIM_THRESHOLD_DEFAULT (128ul << 10)
#define LA_TOP_PAD_DEFAULT        (128ul << 10)
#define LA_MMAP_MAX_DEFAULT       65536
#define LA_UNSORTED_MAX_ITERS     10000
#define LA_CONSOLIDATE_THRESHOLD  (64ul << 10) /* a coalesced free this big consolidates fastbins */

/* ---- sizes ---------------------------------------------------------------- */

/* Chunk size for a request; the caller must reject requests above PTRDIFF_MAX first. */
static inline size_t la_request2size(size_t req)
{
    size_t s = (req + LA_SIZE_SZ + LA_ALIGN_MASK) & ~(size_t)LA_ALIGN_MASK;
    return s < LA_MINSIZE ? LA_MINSIZE : s;
}

static inline size_t la_chunksize(size_t size_field) { return size_field & ~(size_t)LA_SIZE_FLAGS; }
static inline int la_prev_inuse(size_t size_field) { return (size_field & LA_PREV_INUSE) != 0; }
static inline int la_is_mmapped(size_t size_field) { return (size_field & LA_IS_MMAPPED) != 0; }
static inline int la_non_main_arena(size_t size_field) { return (size_field & LA_NON_MAIN_ARENA) != 0; }

static inline uintptr_t la_chunk2mem(uintptr_t chunk) { return chunk + LA_CHUNK_HDR; }
static inline uintptr_t la_mem2chunk(uintptr_t mem) { return mem - LA_CHUNK_HDR; }
static inline int la_aligned(uintptr_t addr) { return (addr & LA_ALIGN_MASK) == 0; }

/* Bytes the caller may use in an in-use chunk of this size. */
static inline size_t la_usable_size(size_t chunk_size, int mmapped)
{
    return chunk_size - (mmapped ? 2 * LA_SIZE_SZ : LA_SIZE_SZ);
}

/* ---- bins ------------------------------------------------------------------- */

static inline int la_in_smallbin_range(size_t sz) { return sz < LA_MIN_LARGE_SIZE; }
static inline unsigned la_smallbin_index(size_t sz) { return (unsigned)(sz >> 4); }

static inline unsigned la_largebin_index(size_t sz)
{
    if ((sz >> 6) <= 48)  return 48 + (unsigned)(sz >> 6);   /* 64-byte spacing   */
    if ((sz >> 9) <= 20)  return 91 + (unsigned)(sz >> 9);   /* 512-byte spacing  */
    if ((sz >> 12) <= 10) return 110 + (unsigned)(sz >> 12); /* 4 KiB spacing     */
    if ((sz >> 15) <= 4)  return 119 + (unsigned)(sz >> 15); /* 32 KiB spacing    */
    if ((sz >> 18) <= 2)  return 124 + (unsigned)(sz >> 18); /* 256 KiB spacing   */
    return 126;
}

static inline unsigned la_bin_index(size_t sz)
{
    return la_in_smallbin_range(sz) ? la_smallbin_index(sz) : la_largebin_index(sz);
}

/* Smallest and largest chunk size a bin holds (hi is inclusive; SIZE_MAX for bin 126).
 * Bin 1 (unsorted) holds any size: lo = LA_MINSIZE, hi = SIZE_MAX. */
static inline void la_bin_range(unsigned idx, size_t *lo, size_t *hi)
{
    if (idx <= LA_BIN_UNSORTED) { *lo = LA_MINSIZE; *hi = SIZE_MAX; return; }
    if (idx < LA_NSMALLBINS) { *lo = *hi = (size_t)idx << 4; return; }
    /* Large bins: the index is monotonic in the size, so binary-search the
     * smallest size (a multiple of 16) whose index is idx, and the first above. */
    size_t first[2];
    for (int k = 0; k < 2; k++) {
        size_t lo_s = LA_MIN_LARGE_SIZE >> 4, hi_s = (size_t)1 << 40;   /* in 16-byte units */
        unsigned want = idx + (unsigned)k;
        while (lo_s < hi_s) {
            size_t mid = lo_s + (hi_s - lo_s) / 2;
            if (la_largebin_index(mid << 4) < want) lo_s = mid + 1; else hi_s = mid;
        }
        first[k] = lo_s << 4;
    }
    *lo = first[0];
    *hi = idx >= 126 ? SIZE_MAX : first[1] - 16;
}

static inline unsigned la_binmap_word(unsigned idx) { return idx >> 5; }
static inline uint32_t la_binmap_bit(unsigned idx) { return (uint32_t)1 << (idx & 31); }

/* ---- fastbins ---------------------------------------------------------------- */

static inline unsigned la_fastbin_index(size_t sz) { return (unsigned)(sz >> 4) - 2; }
static inline size_t la_fastbin_size(unsigned idx) { return ((size_t)idx + 2) << 4; }
/* Largest chunk size that is fast for an M_MXFAST request value (0 disables fastbins). */
static inline size_t la_max_fast_chunk(size_t mxfast)
{
    return mxfast == 0 ? LA_MINSIZE / 2 : ((mxfast + LA_SIZE_SZ) & ~(size_t)LA_ALIGN_MASK);
}

/* ---- tcache ------------------------------------------------------------------ */

static inline unsigned la_tcache_index(size_t chunk_size)
{
    return (unsigned)((chunk_size - LA_MINSIZE + LA_ALIGN_MASK) / LA_ALIGNMENT);
}
static inline size_t la_tcache_chunk_size(unsigned idx) { return (size_t)idx * LA_ALIGNMENT + LA_MINSIZE; }
/* Largest request served by tcache bin idx. */
/* Entries tcache bin idx may hold: tcache_count, lowered to the bin's share of
 * the byte budget tcache_bytes but never below glibc's 7 (nor above
 * tcache_count).  tcache_bytes 0 gives every bin tcache_count, as glibc. */
static inline unsigned la_tcache_bin_limit(uint64_t tcache_count, uint64_t tcache_bytes, unsigned idx)
{
    uint64_t n = tcache_count;
    if (tcache_bytes) {
        uint64_t b = tcache_bytes / la_tcache_chunk_size(idx);
        if (b < LA_TCACHE_FILL) b = LA_TCACHE_FILL;
        if (b < n) n = b;
    }
    return n > LA_TCACHE_FILL_MAX ? LA_TCACHE_FILL_MAX : (unsigned)n;
}
static inline size_t la_tcache_max_request(unsigned idx) { return la_tcache_chunk_size(idx) - LA_SIZE_SZ; }

/* ---- safe-linking -------------------------------------------------------------
 * Singly linked pointers (tcache next, fastbin fd) are stored as
 * (address of the field >> 12) XOR pointer.  The same function reveals them. */
static inline uintptr_t la_protect_ptr(uintptr_t field_addr, uintptr_t ptr)
{
    return (field_addr >> 12) ^ ptr;
}
static inline uintptr_t la_reveal_ptr(uintptr_t field_addr, uintptr_t stored)
{
    return (field_addr >> 12) ^ stored;
}

/* ---- heaps --------------------------------------------------------------------- */

/* Start of the non-main heap (struct la_segment) that holds addr. */
static inline uintptr_t la_heap_of(uintptr_t addr) { return addr & ~(uintptr_t)(LA_HEAP_MAX - 1); }

#endif /* LA_SHARED_LAYOUT_H */
