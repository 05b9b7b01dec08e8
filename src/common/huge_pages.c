/* See huge_pages.h. */
#include "huge_pages.h"

#include <stdint.h>
#include <sys/mman.h>

enum { HUGE_PAGE = 2 << 20 };

void huge_pages_please(void *p, size_t len)
{
	uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(HUGE_PAGE - 1);

	if (len >= 4 * HUGE_PAGE && end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
}
