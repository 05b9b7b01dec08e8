/* A large text buffer for output made of many small pieces (a metrics
 * exposition of 100,000 peers is some 150 MB in 1.3 million samples).
 * stdio's per-call locking and printf's format parsing cost more than the
 * text itself there, so pieces are copied in by hand, numbers formatted by
 * hand, and the buffer reaches its FILE in pieces of a megabyte.
 *
 * With f NULL the buffer only grows and keeps everything (outbuf_take):
 * text made once and copied many times, such as a peer's labels. */
#ifndef ROAM_OUTBUF_H
#define ROAM_OUTBUF_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct outbuf {
	FILE *f;	/* NULL: grow in memory */
	char *data;
	size_t len, cap;
};

enum { OUTBUF_CHUNK = 1 << 20 };

void outbuf_init(struct outbuf *o, FILE *f);
/* Room for n more bytes: writes out what is held (to f), or grows. */
void outbuf_make_room(struct outbuf *o, size_t n);
/* Writes out what is held; errors show on f (ferror, fflush). */
void outbuf_flush(struct outbuf *o);
/* Flushes and frees. */
void outbuf_free(struct outbuf *o);
/* In-memory mode: the text made so far (not NUL-terminated), which the
 * caller now owns and frees; the buffer is empty again. */
char *outbuf_take(struct outbuf *o, size_t *len);

static inline void outbuf_put(struct outbuf *o, const char *s, size_t n)
{
	if (o->cap - o->len < n)
		outbuf_make_room(o, n);
	if (o->cap - o->len < n) {
		/* Larger than a whole chunk: straight to the file. */
		fwrite(s, 1, n, o->f);
		return;
	}
	memcpy(o->data + o->len, s, n);
	o->len += n;
}

static inline void outbuf_putc(struct outbuf *o, char c)
{
	if (o->len == o->cap)
		outbuf_make_room(o, 1);
	o->data[o->len++] = c;
}

static inline void outbuf_puts(struct outbuf *o, const char *s)
{
	outbuf_put(o, s, strlen(s));
}

/* v in decimal, as printf's %" PRIu64 " writes it. */
void outbuf_u64(struct outbuf *o, uint64_t v);
/* v / 1000 "." v % 1000 with three digits: milliseconds as seconds. */
void outbuf_millis(struct outbuf *o, uint64_t v);

#endif
