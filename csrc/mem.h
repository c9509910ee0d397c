/* mem.h: table allocation. Prefix: pf_mem_. */
#ifndef PF_MEM_H
#define PF_MEM_H

#include <stdint.h>
#include <stdlib.h>

/* n zeroed elements of `size` bytes starting on a 64-byte cache line, for the per-connection
 * tables whose entries are sized to one or two lines. calloc keeps a large table's pages
 * unmapped until they are used; the spare line lets the start be rounded up. *block receives
 * the pointer to free(); returns NULL (and *block NULL) when out of memory. */
static inline void *pf_mem_calloc_lines(size_t n, size_t size, void **block)
{
    *block = calloc(1, n * size + 64);
    if (!*block)
        return NULL;
    return (void *)(((uintptr_t)*block + 63) & ~(uintptr_t)63);
}

#endif
