/* Memory for secrets: kept out of core dumps and, where the limit allows,
 * out of swap; wiped before it is given back.
 *
 * Private keys, pre-shared keys and session keys live in the device, its
 * peers and their keypairs. roamd also sets PR_SET_DUMPABLE 0, but a core
 * can still be taken by a debugger run as root, by a kernel with
 * suid_dumpable=2, or by a future change that forgets the prctl. Each
 * allocation is its own anonymous mapping so MADV_DONTDUMP can name it
 * exactly (it works on whole pages; malloc'd memory shares pages with
 * anything). mlock is best effort: an unprivileged process may lock only
 * RLIMIT_MEMLOCK bytes (8 MiB on Debian), and a key in swap is a smaller
 * risk than a daemon that will not start.
 *
 * Cost: one mmap/munmap per device, per peer and per handshake, never per
 * packet. Beyond the process's limit of mappings (vm.max_map_count) the
 * heap serves instead (heap_alloc). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto.h"

/* In front of the caller's bytes, so secmem_free needs only the pointer,
 * like free: the mapping's length (0 for a block from the heap) and the
 * caller's size. 16 keeps the caller's part aligned for any type. */
enum { SECMEM_HDR = 16 };
struct secmem_hdr {
	size_t map_len, size;
};
_Static_assert(sizeof(struct secmem_hdr) <= SECMEM_HDR, "header fits");

/* Under AddressSanitizer (the sanitizer and fuzz builds) the heap serves:
 * ASan then checks these objects' bounds too, and LeakSanitizer, which does
 * not look into anonymous mappings, still sees what they point to. */
#if defined(__SANITIZE_ADDRESS__)
#define SECMEM_USE_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECMEM_USE_HEAP 1
#endif
#endif
#ifndef SECMEM_USE_HEAP
#define SECMEM_USE_HEAP 0
#endif

/* From the heap: wiped on free all the same. Also the fallback when the
 * process has no mapping left (vm.max_map_count, 65530 by default, is less
 * than one per peer for 100,000 peers): a key outside MADV_DONTDUMP beats a
 * peer that cannot be added. */
static void *heap_alloc(size_t size)
{
	uint8_t *p = calloc(1, size + SECMEM_HDR);
	if (!p)
		return NULL;
	struct secmem_hdr h = {.map_len = 0, .size = size};
	memcpy(p, &h, sizeof(h));
	return p + SECMEM_HDR;
}

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (n + page - 1) / page * page;
}

void *secmem_alloc(size_t size)
{
	if (size > SIZE_MAX / 2)
		return NULL;
	if (SECMEM_USE_HEAP)
		return heap_alloc(size);
	size_t len = page_round(size + SECMEM_HDR);
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return heap_alloc(size);
	(void)madvise(p, len, MADV_DONTDUMP);
	(void)mlock(p, len);
	struct secmem_hdr h = {.map_len = len, .size = size};
	memcpy(p, &h, sizeof(h));
	/* Anonymous mappings are zero-filled: this is calloc. */
	return p + SECMEM_HDR;
}

void secmem_free(void *ptr)
{
	if (!ptr)
		return;
	uint8_t *p = (uint8_t *)ptr - SECMEM_HDR;
	struct secmem_hdr h;
	memcpy(&h, p, sizeof(h));
	if (!h.map_len) {
		crypto_wipe(p, SECMEM_HDR + h.size);
		free(p);
		return;
	}
	crypto_wipe(p, h.map_len);
	(void)munlock(p, h.map_len);
	munmap(p, h.map_len);
}

void *crypto_realloc_wiped(void *old, size_t old_len, size_t new_len)
{
	/* realloc may move the data and free the old block unwiped, leaving
	 * a copy of a secret in the heap; copy and wipe by hand instead. */
	void *p = malloc(new_len ? new_len : 1);
	if (!p)
		return NULL;
	if (old) {
		memcpy(p, old, old_len < new_len ? old_len : new_len);
		crypto_wipe(old, old_len);
		free(old);
	}
	return p;
}
