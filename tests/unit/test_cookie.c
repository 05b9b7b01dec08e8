/* Cookies (docs/protocol.md §3): bound to the source address, expiring with
 * the issuer's secret, refused when stale at the holder. */
#include "cookie.h"
#include "crypto.h"
#include "test.h"

#define SEC NSEC_PER_SEC

static uint64_t rng = 1;
static void random_bytes(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(rng >> 56);
	}
}

static struct endpoint source(uint8_t last, uint16_t port)
{
	struct endpoint ep;
	uint8_t ip[4] = {192, 0, 2, last};
	endpoint_from_bytes(&ep, AF_INET, ip, port);
	return ep;
}

static enum cookie_mac_state check(struct cookie_checker *c, uint8_t *msg, const struct endpoint *src, uint64_t now)
{
	return cookie_validate_packet(c, msg, 148, src, true, now, random_bytes, NULL);
}

static void cookie_binds_address_and_expires_with_the_secret(void)
{
	uint8_t pub[32], msg[148];
	random_bytes(NULL, pub, 32);
	random_bytes(NULL, msg, sizeof(msg));
	struct cookie_checker checker = {0};
	struct cookie_maker maker;
	cookie_checker_init(&checker, pub);
	cookie_maker_init(&maker, pub);
	struct aead_ctx *aead = aead_ctx_new();
	struct endpoint src = source(1, 4000), other_port = source(1, 4001), other_ip = source(2, 4000);
	uint64_t t0 = 1000 * SEC;

	cookie_add_macs(&maker, msg, sizeof(msg), t0);
	CHECK(check(&checker, msg, &src, t0) == COOKIE_MAC1_VALID);
	/* mac1 is keyed to the responder's public key. */
	uint8_t other_pub[32];
	random_bytes(NULL, other_pub, 32);
	struct cookie_checker stranger = {0};
	cookie_checker_init(&stranger, other_pub);
	CHECK(check(&stranger, msg, &src, t0) == COOKIE_MAC_INVALID);

	struct message_handshake_cookie reply;
	cookie_create_reply(&checker, aead, &reply, msg, sizeof(msg), &src, t0, random_bytes, NULL);
	CHECK(memcmp(reply.receiver_index, msg + 4, 4) == 0);
	CHECK(cookie_consume_reply(&maker, aead, &reply, t0));
	cookie_add_macs(&maker, msg, sizeof(msg), t0 + 1 * SEC);
	CHECK(check(&checker, msg, &src, t0 + 1 * SEC) == COOKIE_MAC1_AND_MAC2_VALID);
	/* The cookie is good for that address and port only. */
	CHECK(check(&checker, msg, &other_port, t0 + 1 * SEC) == COOKIE_MAC1_VALID);
	CHECK(check(&checker, msg, &other_ip, t0 + 1 * SEC) == COOKIE_MAC1_VALID);
	/* The holder stops using it after 115 s... */
	cookie_add_macs(&maker, msg, sizeof(msg), t0 + 115 * SEC);
	CHECK(crypto_is_zero(msg + 132, 16));
	/* ...and the issuer's secret turns over after 120 s, so even a cookie
	 * stamped at the last moment stops verifying. */
	maker.cookie_birth = t0 + 121 * SEC;
	cookie_add_macs(&maker, msg, sizeof(msg), t0 + 121 * SEC);
	CHECK(!crypto_is_zero(msg + 132, 16));
	CHECK(check(&checker, msg, &src, t0 + 121 * SEC) == COOKIE_MAC1_VALID);
	aead_ctx_free(aead);
}

/* A cookie reply only counts if it answers the mac1 we last sent. */
static void cookie_reply_must_answer_our_last_mac1(void)
{
	uint8_t pub[32], msg[148];
	random_bytes(NULL, pub, 32);
	random_bytes(NULL, msg, sizeof(msg));
	struct cookie_checker checker = {0};
	struct cookie_maker maker;
	cookie_checker_init(&checker, pub);
	cookie_maker_init(&maker, pub);
	struct aead_ctx *aead = aead_ctx_new();
	struct endpoint src = source(1, 4000);

	cookie_add_macs(&maker, msg, sizeof(msg), 1);
	struct message_handshake_cookie reply;
	cookie_create_reply(&checker, aead, &reply, msg, sizeof(msg), &src, 1, random_bytes, NULL);
	/* We sent a newer message since: the reply is for an old mac1. */
	msg[10] ^= 1;
	cookie_add_macs(&maker, msg, sizeof(msg), 2);
	CHECK(!cookie_consume_reply(&maker, aead, &reply, 3));
	CHECK(!maker.has_cookie);
	aead_ctx_free(aead);
}

int main(void)
{
	RUN(cookie_binds_address_and_expires_with_the_secret);
	RUN(cookie_reply_must_answer_our_last_mac1);
	return test_finish("test_cookie");
}
