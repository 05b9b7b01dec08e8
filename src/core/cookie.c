/* MAC1/MAC2 and cookie replies (docs/protocol.md §3). */
#include <string.h>

#include "cookie.h"
#include "crypto.h"

static const char label_mac1[8] = "mac1----";
static const char label_cookie[8] = "cookie--";

static void derive_label_key(uint8_t out[NOISE_SYMMETRIC_KEY_LEN], const char label[8], const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	blake2s256(out, (const uint8_t *)label, 8, pub, NOISE_PUBLIC_KEY_LEN);
}

void cookie_checker_init(struct cookie_checker *checker, const uint8_t our_public[NOISE_PUBLIC_KEY_LEN])
{
	derive_label_key(checker->mac1_key, label_mac1, our_public);
	derive_label_key(checker->cookie_key, label_cookie, our_public);
}

void cookie_maker_init(struct cookie_maker *maker, const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN])
{
	crypto_wipe(maker, sizeof(*maker));
	derive_label_key(maker->mac1_key, label_mac1, peer_public);
	derive_label_key(maker->cookie_key, label_cookie, peer_public);
}

/* cookie = MAC(secret, source IP || source port). The encoding only has to
 * be stable here: nobody but us ever recomputes it. The secret is replaced
 * lazily once it is two minutes old, which expires every cookie with it. */
static void make_cookie(struct cookie_checker *checker, uint8_t cookie[COOKIE_LEN], const struct endpoint *src,
			uint64_t now, void (*random)(void *, void *, size_t), void *random_ctx)
{
	uint8_t input[16 + 2];
	size_t addr_len;
	const uint8_t *addr = endpoint_addr_bytes(src, &addr_len);
	uint16_t port = endpoint_port(src);

	if (!checker->has_secret || now - checker->secret_birth > COOKIE_SECRET_MAX_AGE) {
		random(random_ctx, checker->secret, sizeof(checker->secret));
		checker->secret_birth = now;
		checker->has_secret = true;
	}
	memcpy(input, addr, addr_len);
	input[addr_len] = (uint8_t)(port >> 8);
	input[addr_len + 1] = (uint8_t)port;
	blake2s_mac(cookie, checker->secret, sizeof(checker->secret), input, addr_len + 2);
}

enum cookie_mac_state cookie_validate_packet(struct cookie_checker *checker, const uint8_t *msg, size_t len,
					     const struct endpoint *src, bool check_mac2, uint64_t now,
					     void (*random)(void *, void *, size_t), void *random_ctx)
{
	const struct message_macs *macs = (const struct message_macs *)(msg + len - sizeof(struct message_macs));
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_state state = COOKIE_MAC_INVALID;

	blake2s_mac(computed, checker->mac1_key, sizeof(checker->mac1_key), msg, len - sizeof(*macs));
	if (!crypto_equal(computed, macs->mac1, COOKIE_LEN))
		goto out;
	state = COOKIE_MAC1_VALID;
	if (!check_mac2)
		goto out;
	make_cookie(checker, cookie, src, now, random, random_ctx);
	blake2s_mac(computed, cookie, sizeof(cookie), msg, len - COOKIE_LEN);
	if (crypto_equal(computed, macs->mac2, COOKIE_LEN))
		state = COOKIE_MAC1_AND_MAC2_VALID;
out:
	crypto_wipe(cookie, sizeof(cookie));
	return state;
}

void cookie_add_macs(struct cookie_maker *maker, uint8_t *msg, size_t len, uint64_t now)
{
	struct message_macs *macs = (struct message_macs *)(msg + len - sizeof(struct message_macs));

	blake2s_mac(macs->mac1, maker->mac1_key, sizeof(maker->mac1_key), msg, len - sizeof(*macs));
	memcpy(maker->last_mac1_sent, macs->mac1, COOKIE_LEN);
	maker->have_sent_mac1 = true;

	/* A cookie is trusted a little less long than the issuer keeps its
	 * secret, so it is never sent just after it went stale there. */
	if (maker->has_cookie && now - maker->cookie_birth < COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY)
		blake2s_mac(macs->mac2, maker->cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
}

void cookie_create_reply(struct cookie_checker *checker, struct aead_ctx *aead, struct message_handshake_cookie *reply,
			 const uint8_t *msg, size_t len, const struct endpoint *src, uint64_t now,
			 void (*random)(void *, void *, size_t), void *random_ctx)
{
	const struct message_macs *macs = (const struct message_macs *)(msg + len - sizeof(struct message_macs));
	uint8_t cookie[COOKIE_LEN];

	memset(reply, 0, sizeof(*reply));
	le32_write(reply->header.type, MESSAGE_HANDSHAKE_COOKIE);
	/* Both initiation and response carry their sender index at offset 4. */
	memcpy(reply->receiver_index, msg + 4, 4);
	random(random_ctx, reply->nonce, sizeof(reply->nonce));
	make_cookie(checker, cookie, src, now, random, random_ctx);
	/* Binding the reply to the mac1 it answers stops a third party from
	 * feeding a peer cookies for messages it never sent. */
	xaead_seal(aead, reply->encrypted_cookie, cookie, COOKIE_LEN, macs->mac1, COOKIE_LEN, reply->nonce,
		   checker->cookie_key);
	crypto_wipe(cookie, sizeof(cookie));
}

bool cookie_consume_reply(struct cookie_maker *maker, struct aead_ctx *aead, const struct message_handshake_cookie *reply,
			  uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];
	if (!maker->have_sent_mac1)
		return false;
	if (!xaead_open(aead, cookie, reply->encrypted_cookie, sizeof(reply->encrypted_cookie), maker->last_mac1_sent,
			COOKIE_LEN, reply->nonce, maker->cookie_key)) {
		crypto_wipe(cookie, sizeof(cookie));
		return false;
	}
	memcpy(maker->cookie, cookie, COOKIE_LEN);
	maker->cookie_birth = now;
	maker->has_cookie = true;
	/* One cookie per mac1 sent, as the kernel does: a replayed reply
	 * cannot refresh the cookie. */
	maker->have_sent_mac1 = false;
	crypto_wipe(cookie, sizeof(cookie));
	return true;
}
