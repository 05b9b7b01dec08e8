/* The receive replay window (RFC 6479 bitmap), docs/protocol.md §4.1.
 *
 * A counter is accepted once: it must be below REJECT_AFTER_MESSAGES, not
 * more than COUNTER_WINDOW_SIZE (8128) behind the highest counter seen, and
 * not seen before. The check runs only after the packet has authenticated,
 * so a forged counter can never advance the window. */
#ifndef ROAM_REPLAY_H
#define ROAM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"

struct replay_counter {
	uint64_t highest;
	uint64_t bitmap[COUNTER_BITS_TOTAL / 64];
};

void replay_init(struct replay_counter *rc);
/* True if counter is fresh; it is then marked as seen. */
bool replay_check_and_update(struct replay_counter *rc, uint64_t counter);
/* True once any counter has been accepted. */
bool replay_accepted_any(const struct replay_counter *rc);
/* True if counter is above every counter accepted so far (or none was):
 * the packet is the newest the sender sent under this key, not one that
 * arrives late behind newer ones. Changes nothing. */
bool replay_is_ahead(const struct replay_counter *rc, uint64_t counter);

#endif
