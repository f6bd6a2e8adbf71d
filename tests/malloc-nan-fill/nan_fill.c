/* A malloc that fills every block it hands out with 0xFF bytes: read as float32 or float64, all-ones is a NaN. Loaded
 * with LD_PRELOAD under the test suite (.ci/run), it turns any read of memory that was never written — a parameter a
 * constructor forgot to initialise, a buffer from torch.empty that is read before it is filled — into NaN, so a result
 * that depends on what the memory held before cannot pass unnoticed. calloc and realloc keep their own semantics. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

void *malloc(size_t size)
{
    void *p = __libc_malloc(size);
    if (p) memset(p, 0xFF, size);
    return p;
}

void *memalign(size_t alignment, size_t size)
{
    void *p = __libc_memalign(alignment, size);
    if (p) memset(p, 0xFF, size);
    return p;
}

void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

void *valloc(size_t size) { return memalign(4096, size); }

int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
