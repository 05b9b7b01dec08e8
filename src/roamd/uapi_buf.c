/* The growing, NUL-terminated text buffer UAPI replies are written into
 * (struct uapi_buf in uapi.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "uapi.h"

/* A buffer whose growth once failed is poisoned: its contents are dropped
 * and every later append is ignored, so a reply that lost a line in the
 * middle can never go out looking complete. A successful append always
 * leaves data non-NULL, so "data == NULL after appending" means failure;
 * cap == SIZE_MAX tells the poisoned state from a fresh zeroed buffer.
 * uapi_buf_free resets both. The data is kept NUL-terminated. */
bool uapi_buf_poisoned(const struct uapi_buf *buf)
{
	return !buf->data && buf->cap == SIZE_MAX;
}

static void buf_poison(struct uapi_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = SIZE_MAX;
}

static bool buf_reserve(struct uapi_buf *buf, size_t extra)
{
	if (uapi_buf_poisoned(buf))
		return false;
	if (buf->data && buf->cap - buf->len > extra)
		return true;
	if (extra >= SIZE_MAX / 2 - buf->len) {
		buf_poison(buf);
		return false;
	}
	size_t need = buf->len + extra + 1, cap = buf->cap ? buf->cap : 256;
	while (cap < need)
		cap *= 2;
	/* A get reply starts with the private key and holds every pre-shared
	 * key: the old block is wiped, never left to the heap by realloc. */
	char *data = crypto_realloc_wiped(buf->data, buf->data ? buf->len + 1 : 0, cap);
	if (!data) {
		buf_poison(buf);
		return false;
	}
	buf->data = data;
	buf->cap = cap;
	return true;
}

void uapi_buf_reserve(struct uapi_buf *buf, size_t bytes)
{
	buf_reserve(buf, bytes);
}

void uapi_buf_printf(struct uapi_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Almost every line fits in this guess, so vsnprintf runs once. */
	if (!buf_reserve(buf, 160))
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf_poison(buf);
		return;
	}
	if ((size_t)n >= buf->cap - buf->len) {
		if (!buf_reserve(buf, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, ap);
		va_end(ap);
	}
	buf->len += (size_t)n;
}

void uapi_buf_free(struct uapi_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}
