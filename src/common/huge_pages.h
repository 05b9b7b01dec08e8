/* A hint for large buffers that are filled once from start to end (a UAPI
 * get reply of 100,000 peers, some 40 MB; the peers roam parses out of
 * it): each first touch of a 4 KB page is a page fault, and on a virtual
 * machine a costly one. Where transparent huge pages are offered on
 * request (/sys/kernel/mm/transparent_hugepage/enabled: madvise), asking
 * makes that one fault per 2 MB. Used by roamd and roam alike. */
#ifndef ROAM_HUGE_PAGES_H
#define ROAM_HUGE_PAGES_H

#include <stddef.h>

/* Asks for huge pages for the whole 2 MB pages inside [p, p + len) when
 * len is 8 MB or more; smaller buffers are left alone. Only a hint: its
 * failure changes nothing. */
void huge_pages_please(void *p, size_t len);

#endif
