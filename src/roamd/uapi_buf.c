/* The growing, NUL-terminated text buffer UAPI replies are written into
 * (struct uapi_buf in uapi.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "huge_pages.h"
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
	/* A reply of 100,000 peers is some 40 MB, written once through. */
	huge_pages_please(buf->data, buf->cap);
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

char *uapi_buf_append(struct uapi_buf *buf, size_t n)
{
	char *at;

	if (!buf_reserve(buf, n))
		return NULL;
	at = buf->data + buf->len;
	buf->len += n;
	buf->data[buf->len] = '\0';
	return at;
}

void uapi_buf_put(struct uapi_buf *buf, const char *s, size_t n)
{
	char *at = uapi_buf_append(buf, n);

	if (at)
		memcpy(at, s, n);
}

void uapi_buf_put_number(struct uapi_buf *buf, const char *key, uint64_t v)
{
	char digits[20];
	size_t key_len = strlen(key), i = sizeof(digits), n;
	char *at;

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = sizeof(digits) - i;
	at = uapi_buf_append(buf, key_len + 1 + n + 1);
	if (!at)
		return;
	memcpy(at, key, key_len);
	at[key_len] = '=';
	memcpy(at + key_len + 1, digits + i, n);
	at[key_len + 1 + n] = '\n';
}

void uapi_buf_free(struct uapi_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}
