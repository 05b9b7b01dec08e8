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
 * packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto.h"

/* The mapping's length is kept in front of the caller's bytes so secmem_free
 * needs only the pointer, like free. 16 keeps the caller's part aligned for
 * any type. */
enum { SECMEM_HDR = 16 };

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (n + page - 1) / page * page;
}

void *secmem_alloc(size_t size)
{
	if (size > SIZE_MAX / 2)
		return NULL;
	size_t len = page_round(size + SECMEM_HDR);
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_DONTDUMP);
	(void)mlock(p, len);
	memcpy(p, &len, sizeof(len));
	/* Anonymous mappings are zero-filled: this is calloc. */
	return p + SECMEM_HDR;
}

void secmem_free(void *ptr)
{
	if (!ptr)
		return;
	uint8_t *p = (uint8_t *)ptr - SECMEM_HDR;
	size_t len;
	memcpy(&len, p, sizeof(len));
	crypto_wipe(p, len);
	(void)munlock(p, len);
	munmap(p, len);
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
