/* Receive replay window: the RFC 6479 ring bitmap, as in docs/protocol.md §4.1.
 *
 * The ring holds COUNTER_BITS_TOTAL bits in 64-bit words; bit (c mod 8192)
 * stands for counter c. The word holding `highest` is the moving edge: only
 * the bits up to `highest` in it are meaningful, so the usable window is the
 * other 127 words, COUNTER_WINDOW_SIZE = 8128 counters behind `highest`. Any
 * counter at most that far behind lands in a word that is distinct (mod the
 * ring) from the edge word, so one bit never stands for two live counters.
 *
 * Instead of shifting the bitmap when the window moves, words that the edge
 * passes over are zeroed: they held counters a whole ring behind, which are
 * out of the window anyway. That keeps every update O(1) amortised and at
 * most one pass over the ring (128 word stores) for any jump. */
#include <string.h>

#include "replay.h"

enum {
	WORD_BITS = 64,
	WORD_SHIFT = 6,
	RING_WORDS = COUNTER_BITS_TOTAL / WORD_BITS,
};

_Static_assert(COUNTER_BITS_TOTAL % WORD_BITS == 0, "ring is whole words");
_Static_assert((RING_WORDS & (RING_WORDS - 1)) == 0, "ring index is a mask");
_Static_assert(COUNTER_WINDOW_SIZE == COUNTER_BITS_TOTAL - WORD_BITS, "one word is the moving edge");

void replay_init(struct replay_counter *rc)
{
	/* highest = 0 with an empty ring: counter 0 is "not ahead" but within
	 * the window and unseen, so it is accepted exactly once, like every
	 * other counter, with no special first-packet state. */
	memset(rc, 0, sizeof(*rc));
}

bool replay_check_and_update(struct replay_counter *rc, uint64_t counter)
{
	/* Past this the sender must have rekeyed; it also keeps every index
	 * computation below far from wrapping. */
	if (counter >= REJECT_AFTER_MESSAGES)
		return false;

	uint64_t word = counter >> WORD_SHIFT;

	if (counter > rc->highest) {
		uint64_t edge = rc->highest >> WORD_SHIFT;
		uint64_t gap = word - edge;
		/* Clearing more than the ring would only revisit the same
		 * words; a jump of a whole ring or more empties it. */
		if (gap > RING_WORDS)
			gap = RING_WORDS;
		for (uint64_t i = 1; i <= gap; i++)
			rc->bitmap[(edge + i) & (RING_WORDS - 1)] = 0;
		rc->highest = counter;
	} else if (rc->highest - counter > COUNTER_WINDOW_SIZE) {
		return false;
	}

	uint64_t *slot = &rc->bitmap[word & (RING_WORDS - 1)];
	uint64_t bit = 1ULL << (counter & (WORD_BITS - 1));
	if (*slot & bit)
		return false;
	*slot |= bit;
	return true;
}

bool replay_accepted_any(const struct replay_counter *rc)
{
	/* highest is 0 both before the first packet and after counter 0:
	 * bit 0 tells them apart. */
	return rc->highest != 0 || (rc->bitmap[0] & 1);
}

bool replay_is_ahead(const struct replay_counter *rc, uint64_t counter)
{
	return !replay_accepted_any(rc) || counter > rc->highest;
}
