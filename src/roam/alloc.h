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
/* xrealloc for a buffer that holds a secret (a config file, a UAPI reply
 * with private_key, a request with keys): realloc may move the data and
 * free the old block as it is, leaving a copy of the key in the heap, so
 * this copies by hand and wipes the old block (its old_len bytes) before
 * freeing it. p may be NULL (old_len 0). */
void *xrealloc_wiped(void *p, size_t old_len, size_t new_len);
/* Wipes len bytes of p, then frees it. p may be NULL. */
void free_wiped(void *p, size_t len);
/* Grows a heap array of n elements of size bytes so that it holds n + 1.
 * Capacity is not stored: it is the next power of two, so appending is
 * amortised O(1) (a server can have a six-figure number of AllowedIPs). */
void *array_grow(void *v, size_t n, size_t size);
/* Appends one zeroed element to arr (with count n) and yields a pointer to
 * it. arr and n are evaluated more than once: plain lvalues only. */
#define ARRAY_PUSH(arr, n) \
	((arr) = array_grow((arr), (n), sizeof(*(arr))), memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

#endif
