/* The CLI's allocation helpers (see alloc.h). */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "huge_pages.h"

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
	/* 100,000 peers of a get reply fill some 40 MB (huge_pages.h). */
	huge_pages_please(v, cap * size);
	return v;
}
