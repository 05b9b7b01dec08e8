/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, as WireGuard uses it
 * (docs/protocol.md §2), and the session keypairs it produces (§5.4).
 *
 *   <- s
 *   -> e, es, s, ss, {t}
 *   <- e, ee, se, psk, {}
 */
#ifndef ROAM_NOISE_H
#define ROAM_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "messages.h"
#include "replay.h"

struct device;
struct peer;

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	enum noise_handshake_state state;
	uint8_t ephemeral_private[NOISE_PRIVATE_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	/* Greatest TAI64N accepted from this peer: an initiation must beat it. */
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption; /* monotonic; 0 = never */
	uint32_t local_index;	/* registered in the index table while pending */
	uint32_t remote_index;
};

struct noise_keypair {
	struct peer *peer;
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t receive_key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t send_counter;
	uint64_t birth;		/* monotonic */
	uint32_t local_index;	/* what the peer puts in receiver_index */
	uint32_t remote_index;	/* what we put in receiver_index */
	bool i_am_the_initiator;
	bool sending_valid;	/* false after a private-key change */
	struct replay_counter replay;
};

/* previous / current / next (docs/protocol.md §5.4): sending uses only current; receiving
 * any of the three; next is a responder's keypair awaiting confirmation. */
struct noise_keypairs {
	struct noise_keypair *previous, *current, *next;
};

/* TAI64N of a wall-clock time, nanoseconds whitened to a multiple of 2^24
 * so a timestamp does not leak precise timing. */
void tai64n_from_ns(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns);

/* Precomputes the static-static DH for a peer; false if it is all zeros
 * (a low-order public key: such a peer can never handshake). */
bool noise_precompute_static_static(struct device *dev, struct peer *peer);

bool noise_create_initiation(struct device *dev, struct peer *peer, struct message_handshake_initiation *msg, uint64_t now);
/* The responder's first steps of an initiation (e, es, s): the
 * Diffie-Hellman of the initiator's ephemeral key with our static one,
 * which decrypts the initiator's static key. This is all the work a
 * forged initiation with a valid mac1 costs us, and it needs nothing but
 * our key pair: noise_open_initiation touches no device and no peer, so
 * roamd runs it on a worker thread with that thread's own AEAD context
 * (handshake_worker.c). The rest, cheap and stateful (peer lookup, ss,
 * timestamp and flood checks, the peer's handshake state), is
 * noise_consume_opened_initiation's, on the thread that owns the device. */
struct noise_initiation_opening {
	uint8_t responder_public[NOISE_PUBLIC_KEY_LEN]; /* the key it was opened with */
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t initiator_static[NOISE_PUBLIC_KEY_LEN];
	bool opened; /* the DH and the static key's AEAD succeeded */
};
struct aead_ctx;
bool noise_open_initiation(struct aead_ctx *aead, const uint8_t static_private[NOISE_PRIVATE_KEY_LEN],
			   const uint8_t static_public[NOISE_PUBLIC_KEY_LEN],
			   const struct message_handshake_initiation *msg, struct noise_initiation_opening *out);
void noise_initiation_opening_wipe(struct noise_initiation_opening *o);
/* As noise_consume_initiation, from an opening; one made with a key the
 * device no longer has is refused (DROP_HANDSHAKE_DECRYPT). */
struct peer *noise_consume_opened_initiation(struct device *dev, const struct message_handshake_initiation *msg,
					     const struct noise_initiation_opening *opening, uint64_t now, int *drop,
					     struct peer **sender);
/* Both steps at once. Returns the peer, or NULL with *drop set. On success the peer's handshake
 * holds the consumed state; nothing is stored on failure. *sender names the
 * peer whenever the static key decrypted (so a replay is counted against
 * the peer it imitates), else NULL. */
struct peer *noise_consume_initiation(struct device *dev, const struct message_handshake_initiation *msg,
				      uint64_t now, int *drop, struct peer **sender);
/* The responder's message 2 in three steps, so that its three X25519 (its
 * ephemeral key, ee, se) can run on another thread as the opening does:
 *  - noise_prepare_response copies what it needs from the peer's consumed
 *    initiation (and draws the ephemeral key's randomness from the device);
 *  - noise_make_response, pure, computes (e, ee, se, psk, {});
 *  - noise_install_response writes the message and the peer's state, if
 *    the peer still holds the initiation it answers (else false, nothing
 *    changed: it was replaced meanwhile). */
struct noise_response_making {
	uint8_t initiator_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN]; /* wiped by make */
	uint8_t random[NOISE_PRIVATE_KEY_LEN];		 /* wiped by make */
	uint8_t consumed_chaining_key[NOISE_HASH_LEN];	 /* names the initiation */
	uint32_t remote_index;
	uint8_t chaining_key[NOISE_HASH_LEN]; /* in: consumed; out: after {} */
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t ephemeral_public[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[NOISE_AUTHTAG_LEN];
	bool due;  /* prepared */
	bool made; /* computed */
	/* Where the response goes: the peer's endpoint (with our source
	 * address) as it stood when the initiation arrived, as an answer made
	 * at once would go; meanwhile other packets of the peer's may have
	 * moved it. Set by receive.c. */
	struct endpoint reply_to;
};
bool noise_prepare_response(struct device *dev, const struct peer *peer, struct noise_response_making *m);
bool noise_make_response(struct aead_ctx *aead, struct noise_response_making *m);
bool noise_install_response(struct device *dev, struct peer *peer, const struct noise_response_making *m,
			    struct message_handshake_response *msg);
void noise_response_making_wipe(struct noise_response_making *m);
/* All three at once. */
bool noise_create_response(struct device *dev, struct peer *peer, struct message_handshake_response *msg);
struct peer *noise_consume_response(struct device *dev, const struct message_handshake_response *msg, int *drop);

/* Derives the transport keypair from a finished handshake and slots it in
 * (initiator: current; responder: next). Wipes the handshake state. */
bool noise_begin_session(struct device *dev, struct peer *peer, uint64_t now);
/* Called when data authenticated under kp: promotes next to current.
 * Returns true if that confirmed a new session. */
bool noise_received_with_keypair(struct device *dev, struct peer *peer, struct noise_keypair *kp);
/* Wipes and frees every keypair and the handshake of a peer. */
void noise_clear_peer(struct device *dev, struct peer *peer);
void noise_clear_handshake(struct device *dev, struct peer *peer);
/* Makes every keypair of a peer unusable for sending (identity change). */
void noise_expire_sending(struct peer *peer);

#endif
