/* See outbuf.h. */
#include "outbuf.h"

#include <stdlib.h>

#include "alloc.h"
#include "huge_pages.h"

void outbuf_init(struct outbuf *o, FILE *f)
{
	*o = (struct outbuf){ .f = f };
	o->cap = f ? OUTBUF_CHUNK : 4096;
	o->data = xrealloc(NULL, o->cap);
}

void outbuf_flush(struct outbuf *o)
{
	if (o->f && o->len)
		fwrite(o->data, 1, o->len, o->f);
	if (o->f)
		o->len = 0;
}

void outbuf_make_room(struct outbuf *o, size_t n)
{
	size_t cap = o->cap;

	if (o->f) {
		/* What does not fit a chunk goes around the buffer
		 * (outbuf_put); the buffer is emptied either way. */
		outbuf_flush(o);
		return;
	}
	while (cap - o->len < n) {
		if (cap > SIZE_MAX / 2)
			out_of_memory();
		cap *= 2;
	}
	o->data = xrealloc(o->data, cap);
	o->cap = cap;
	/* The labels of 100,000 peers are some 15 MB (huge_pages.h). */
	huge_pages_please(o->data, o->cap);
}

void outbuf_free(struct outbuf *o)
{
	outbuf_flush(o);
	free(o->data);
	*o = (struct outbuf){ 0 };
}

char *outbuf_take(struct outbuf *o, size_t *len)
{
	char *text = o->data;

	*len = o->len;
	outbuf_init(o, o->f);
	return text;
}

/* Digits are made backwards into a small array, then copied: one copy,
 * no division beyond one per digit. */
void outbuf_u64(struct outbuf *o, uint64_t v)
{
	char digits[20];
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	outbuf_put(o, digits + i, sizeof(digits) - i);
}

void outbuf_millis(struct outbuf *o, uint64_t v)
{
	uint64_t ms = v % 1000;
	char frac[4] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10) };

	outbuf_u64(o, v / 1000);
	outbuf_put(o, frac, sizeof(frac));
}
