/* Memory for the CLI: allocation failure ends the process with a message.
 * roam cannot do anything useful without memory, and unwinding every step
 * for ENOMEM would hide the logic it protects. */
#ifndef ROAM_ALLOC_H
#define ROAM_ALLOC_H

#include <stddef.h>
#include <string.h>

/* Prints "roam: out of memory" and exits 1. */
_Noreturn void out_of_memory(void);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* Grows a heap array of n elements of size bytes so that it holds n + 1.
 * Capacity is not stored: it is the next power of two, so appending is
 * amortised O(1) (a server can have a six-figure number of AllowedIPs). */
void *array_grow(void *v, size_t n, size_t size);
/* Appends one zeroed element to arr (with count n) and yields a pointer to
 * it. arr and n are evaluated more than once: plain lvalues only. */
#define ARRAY_PUSH(arr, n) \
	((arr) = array_grow((arr), (n), sizeof(*(arr))), memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

#endif
