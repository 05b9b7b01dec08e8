/* MAC1, MAC2 and cookie replies (docs/protocol.md §3): the DoS defence.
 *
 * The checker is the device's side: it verifies mac1 on every handshake
 * message, and under load demands a valid mac2, i.e. proof that the sender
 * can receive at its source address, issuing cookies bound to that address.
 * The maker is a peer's side: it stamps mac1 (and mac2 while it holds a
 * fresh cookie from that peer) on what we send, and consumes cookie replies. */
#ifndef ROAM_COOKIE_H
#define ROAM_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "messages.h"

struct aead_ctx;

struct cookie_checker {
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("mac1----" || our public) */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("cookie--" || our public) */
	uint8_t secret[COOKIE_SECRET_LEN];
	uint64_t secret_birth;				/* monotonic; 0 = none yet */
	bool has_secret;
};

struct cookie_maker {
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("mac1----" || peer public) */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("cookie--" || peer public) */
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birth;
	bool has_cookie;
	uint8_t last_mac1_sent[COOKIE_LEN];
	bool have_sent_mac1;
};

enum cookie_mac_state {
	COOKIE_MAC_INVALID,
	COOKIE_MAC1_VALID,		/* mac2 absent or wrong */
	COOKIE_MAC1_AND_MAC2_VALID,
};

void cookie_checker_init(struct cookie_checker *checker, const uint8_t our_public[NOISE_PUBLIC_KEY_LEN]);
void cookie_maker_init(struct cookie_maker *maker, const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN]);

/* msg/len is a whole initiation or response. check_mac2 only under load
 * (it may rotate the secret, so needs random bytes). */
enum cookie_mac_state cookie_validate_packet(struct cookie_checker *checker, const uint8_t *msg, size_t len,
					     const struct endpoint *src, bool check_mac2, uint64_t now,
					     void (*random)(void *, void *, size_t), void *random_ctx);

/* Writes mac1 and mac2 into the last 32 bytes of an outgoing handshake. */
void cookie_add_macs(struct cookie_maker *maker, uint8_t *msg, size_t len, uint64_t now);

/* Builds the cookie reply to the handshake message msg received from src. */
void cookie_create_reply(struct cookie_checker *checker, struct aead_ctx *aead, struct message_handshake_cookie *reply,
			 const uint8_t *msg, size_t len, const struct endpoint *src, uint64_t now,
			 void (*random)(void *, void *, size_t), void *random_ctx);

/* Decrypts a cookie reply addressed to one of our handshakes with this peer;
 * stores the cookie. False if it does not authenticate or we never sent a
 * mac1 it could answer. */
bool cookie_consume_reply(struct cookie_maker *maker, struct aead_ctx *aead, const struct message_handshake_cookie *reply,
			  uint64_t now);

#endif
