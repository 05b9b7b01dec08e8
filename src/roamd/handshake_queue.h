/* Handshake messages waiting for their turn (handshake_work.c): a ring of
 * fixed size, filled by the data path as initiations and responses arrive
 * and emptied after the data of each loop round. When it is full the
 * newest arrival is dropped and counted: the oldest are already paid for
 * (copied), and what an attacker sends next is as worthless as what it
 * sent before. */
#ifndef ROAMD_HANDSHAKE_QUEUE_H
#define ROAMD_HANDSHAKE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "messages.h"

/* The kernel's and wireguard-go's queue length; under load at 1/8 of it
 * (UNDER_LOAD_QUEUE_LEN). */
enum { HANDSHAKE_QUEUE_LEN = 8 * UNDER_LOAD_QUEUE_LEN };

struct queued_handshake {
	struct endpoint from;
	uint64_t arrived; /* monotonic ns */
	uint16_t len;
	uint8_t data[MESSAGE_INITIATION_LEN]; /* the larger of the two */
};

struct handshake_queue {
	struct queued_handshake *ring; /* HANDSHAKE_QUEUE_LEN entries */
	unsigned head, count;
	uint64_t queued, dropped; /* since start */
};

int handshake_queue_init(struct handshake_queue *q);
void handshake_queue_free(struct handshake_queue *q);
/* false (counted in dropped) when full or len is not a handshake's. */
bool handshake_queue_push(struct handshake_queue *q, const struct endpoint *from, const uint8_t *data, size_t len,
			  uint64_t now);
/* The oldest waiting, or NULL; valid until the next pop. */
struct queued_handshake *handshake_queue_peek(struct handshake_queue *q);
void handshake_queue_pop(struct handshake_queue *q);

#endif
