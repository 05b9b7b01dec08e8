/* The CLI's allocation helpers (see alloc.h). */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "crypto.h"

_Noreturn void out_of_memory(void)
{
	fputs("roam: out of memory\n", stderr);
	exit(1);
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc_wiped(void *p, size_t old_len, size_t new_len)
{
	/* The core's helper: the same copy-and-wipe roamd uses for its
	 * own secret buffers. */
	void *q = crypto_realloc_wiped(p, old_len, new_len);

	if (!q)
		out_of_memory();
	return q;
}

void free_wiped(void *p, size_t len)
{
	if (p)
		crypto_wipe(p, len);
	free(p);
}

char *xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;
	return memcpy(xrealloc(NULL, len), s, len);
}

/* An array of many megabytes (100,000 peers of a get reply) is touched
 * page by page as it fills, and each first touch of a 4 KB page is a
 * fault: transparent huge pages, where the system offers them on request
 * (madvise mode), make that one fault per 2 MB. Only a hint. */
static void huge_pages_please(void *p, size_t len)
{
	enum { HUGE = 2 << 20 };
	uintptr_t start = ((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(HUGE - 1);

	if (len >= 4 * HUGE && end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
}

void *array_grow(void *v, size_t n, size_t size)
{
	size_t cap;

	/* The capacity is implied by n (see alloc.h): 4, then powers of two,
	 * so the array is full exactly when n is 4 or a larger power of two. */
	if (v && (n < 4 || (n & (n - 1)) != 0))
		return v;
	cap = n < 4 ? 4 : n * 2;
	if (cap > SIZE_MAX / size)
		out_of_memory();
	v = xrealloc(v, cap * size);
	huge_pages_please(v, cap * size);
	return v;
}
