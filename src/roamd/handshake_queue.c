/* The ring of waiting handshake messages (handshake_queue.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handshake_queue.h"

int handshake_queue_init(struct handshake_queue *q)
{
	*q = (struct handshake_queue){ 0 };
	q->ring = calloc(HANDSHAKE_QUEUE_LEN, sizeof(*q->ring));
	return q->ring ? 0 : -ENOMEM;
}

void handshake_queue_free(struct handshake_queue *q)
{
	free(q->ring);
	q->ring = NULL;
	q->count = 0;
}

bool handshake_queue_push(struct handshake_queue *q, const struct endpoint *from, const uint8_t *data, size_t len,
			  uint64_t now)
{
	if (q->count == HANDSHAKE_QUEUE_LEN || len > sizeof(q->ring[0].data)) {
		q->dropped++;
		return false;
	}
	struct queued_handshake *e = &q->ring[(q->head + q->count) % HANDSHAKE_QUEUE_LEN];
	e->from = *from;
	e->arrived = now;
	e->len = (uint16_t)len;
	memcpy(e->data, data, len);
	q->count++;
	q->queued++;
	return true;
}

struct queued_handshake *handshake_queue_peek(struct handshake_queue *q)
{
	return q->count ? &q->ring[q->head] : NULL;
}

void handshake_queue_pop(struct handshake_queue *q)
{
	if (!q->count)
		return;
	q->head = (q->head + 1) % HANDSHAKE_QUEUE_LEN;
	q->count--;
}
