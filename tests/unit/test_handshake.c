/* The deterministic handshake of tests/vectors/handshake.txt, reproduced
 * byte for byte through the real engine (not just the primitives): two
 * devices whose random sources and clocks are pinned to the vector's
 * ephemeral keys, indices and timestamp. */
#include <errno.h>

#include "cookie.h"
#include "crypto.h"
#include "device.h"
#include "noise.h"
#include "test.h"

/* ---- reading the vector file ----------------------------------------- */

static char vector_text[64 * 1024];

static void load_vectors(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/handshake.txt", test_vectors_dir());
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	size_t n = fread(vector_text, 1, sizeof(vector_text) - 1, f);
	vector_text[n] = 0;
	fclose(f);
}

/* The hex value of "label: hex" (or "label (...): hex") inside the section
 * that starts with `section`; returns its length, 0 if absent. */
static size_t vector(const char *section, const char *label, uint8_t *out, size_t max)
{
	const char *s = strstr(vector_text, section);
	if (!s)
		return 0;
	const char *end = strstr(s + 1, "---- case");
	const char *cookie = strstr(s + 1, "---- cookie");
	if (!end || (cookie && cookie < end))
		end = cookie;
	for (const char *line = s; line && (!end || line < end); line = strchr(line, '\n')) {
		while (*line == '\n')
			line++;
		if (strncmp(line, label, strlen(label)) == 0) {
			/* The value follows the line's last ": " (labels may hold colons). */
			const char *nl = strchr(line, '\n'), *colon = NULL;
			for (const char *c = line; *c && (!nl || c < nl); c++)
				if (c[0] == ':' && c[1] == ' ')
					colon = c + 2;
			if (!colon)
				continue;
			if (strncmp(colon, "0x", 2) == 0)
				return 0;
			return test_unhex(out, max, colon);
		}
	}
	return 0;
}

/* ---- a device pinned to the vector ----------------------------------- */

struct pinned {
	uint8_t ephemeral_fill;	/* random 32-byte draws: the clamped ephemeral */
	uint32_t index;		/* random 4-byte draws */
	uint8_t sent[4][256];
	size_t sent_len[4];
	int sent_count;
	uint8_t delivered[256];
	size_t delivered_len;
};

static void pinned_random(void *ctx, void *buf, size_t len)
{
	struct pinned *p = ctx;
	if (len == 32)
		memset(buf, p->ephemeral_fill, len);
	else if (len == 4)
		memcpy(buf, &p->index, 4);
	else
		memset(buf, 0x5a, len);
}

static uint64_t pinned_wall(void *ctx)
{
	(void)ctx;
	return 1700000000ULL * 1000000000ULL; /* the vector's TAI64N, nsec 0 */
}

static void pinned_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	struct pinned *p = ctx;
	(void)peer, (void)to;
	if (p->sent_count < 4 && len <= 256) {
		memcpy(p->sent[p->sent_count], data, len);
		p->sent_len[p->sent_count++] = len;
	}
}

static void pinned_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	struct pinned *p = ctx;
	(void)peer;
	memcpy(p->delivered, data, len);
	p->delivered_len = len;
}

static struct device *pinned_device(struct pinned *p)
{
	struct device_io io = {
		.ctx = p, .send = pinned_send, .deliver = pinned_deliver, .random = pinned_random, .wall_ns = pinned_wall,
	};
	return device_new(&io);
}

static const uint8_t initiator_inner[4] = {10, 99, 0, 2}, responder_inner[4] = {10, 99, 0, 1};

/* The responder's side of message 1 in two steps, as roamd's worker thread
 * does it: the checks, the opening with a separate AEAD context and nothing
 * but the key pair, then the finish on the device. */
static enum receive_result receive_initiation_apart(struct device *dev, const struct endpoint *from, uint8_t *msg,
						    const uint8_t priv[32], const uint8_t pub[32], uint64_t now,
						    bool response_apart)
{
	if (!device_admit_initiation(dev, from, msg, 148, now))
		return RECEIVED_DROPPED;
	struct aead_ctx *aead = aead_ctx_new();
	struct noise_initiation_opening opening;
	struct noise_response_making making;
	CHECK(noise_open_initiation(aead, priv, pub, (const struct message_handshake_initiation *)msg, &opening));
	enum receive_result r = device_receive_opened_initiation(dev, from, msg, 148, &opening, now,
								 response_apart ? &making : NULL);
	if (response_apart && r == RECEIVED_HANDSHAKE) {
		CHECK(making.due);
		CHECK(noise_make_response(aead, &making));
		CHECK(crypto_is_zero(making.preshared_key, 32) && crypto_is_zero(making.random, 32));
		CHECK(device_send_made_response(dev, &making, now));
		noise_response_making_wipe(&making);
	}
	aead_ctx_free(aead);
	noise_initiation_opening_wipe(&opening);
	return r;
}

static enum receive_result receive_initiation_opened_apart(struct device *dev, const struct endpoint *from,
							    uint8_t *msg, const uint8_t priv[32], const uint8_t pub[32],
							    uint64_t now)
{
	return receive_initiation_apart(dev, from, msg, priv, pub, now, false);
}

enum { ON_DEVICE, OPENED_APART, OPENED_AND_MADE_APART };

static void run_case(const char *section, int how)
{
	uint8_t ipriv[32], ipub[32], rpriv[32], rpub[32], psk[32], expect[256];
	struct endpoint ep_i, ep_r;
	uint64_t now = 5 * NSEC_PER_SEC;

	/* Static keys are listed once, in the first case. */
	const char *keys = "---- case: no PSK";
	CHECK(vector(keys, "initiator_static_private", ipriv, 32) == 32);
	CHECK(vector(keys, "initiator_static_public", ipub, 32) == 32);
	CHECK(vector(keys, "responder_static_private", rpriv, 32) == 32);
	CHECK(vector(keys, "responder_static_public", rpub, 32) == 32);
	CHECK(vector(section, "psk", psk, 32) == 32);

	struct pinned pi = {.ephemeral_fill = 0xa8, .index = 0x11223344};
	struct pinned pr = {.ephemeral_fill = 0xb0, .index = 0xaabbccdd};
	struct device *di = pinned_device(&pi), *dr = pinned_device(&pr);
	device_set_private_key(di, ipriv, now);
	device_set_private_key(dr, rpriv, now);
	uint8_t got_pub[32];
	CHECK(device_public_key(di, got_pub) && memcmp(got_pub, ipub, 32) == 0);
	CHECK(device_public_key(dr, got_pub) && memcmp(got_pub, rpub, 32) == 0);
	device_up(di, now);
	device_up(dr, now);

	int err;
	struct peer *to_r = device_peer_create(di, rpub, now, &err);
	struct peer *to_i = device_peer_create(dr, ipub, now, &err);
	CHECK(to_r && to_i);
	peer_set_preshared_key(to_r, psk);
	peer_set_preshared_key(to_i, psk);
	uint8_t a4[4] = {192, 0, 2, 1}, b4[4] = {192, 0, 2, 2};
	endpoint_from_bytes(&ep_i, AF_INET, a4, 51820);
	endpoint_from_bytes(&ep_r, AF_INET, b4, 51820);
	peer_set_endpoint(to_r, &ep_r);
	CHECK(peer_allowedips_insert(to_r, AF_INET, responder_inner, 32) == 0);
	CHECK(peer_allowedips_insert(to_i, AF_INET, initiator_inner, 32) == 0);

	/* message 1 */
	peer_send_keepalive_now(to_r, now);
	CHECK(pi.sent_count == 1 && pi.sent_len[0] == 148);
	size_t n = vector(section, "message_1_initiation", expect, sizeof(expect));
	CHECK(n == 148 && memcmp(pi.sent[0], expect, 148) == 0);

	/* message 2 */
	if (how != ON_DEVICE)
		CHECK(receive_initiation_apart(dr, &ep_i, pi.sent[0], rpriv, rpub, now, how == OPENED_AND_MADE_APART) ==
		      RECEIVED_HANDSHAKE);
	else
		CHECK(device_receive(dr, &ep_i, pi.sent[0], 148, now) == RECEIVED_HANDSHAKE);
	CHECK(pr.sent_count == 1 && pr.sent_len[0] == 92);
	n = vector(section, "message_2_response", expect, sizeof(expect));
	CHECK(n == 92 && memcmp(pr.sent[0], expect, 92) == 0);

	/* the initiator's confirming keepalive, counter 0 */
	CHECK(device_receive(di, &ep_r, pr.sent[0], 92, now) == RECEIVED_HANDSHAKE);
	CHECK(pi.sent_count == 2 && pi.sent_len[1] == 32);
	n = vector(section, "transport: keepalive initiator->responder", expect, sizeof(expect));
	CHECK(n == 32 && memcmp(pi.sent[1], expect, 32) == 0);
	CHECK(device_receive(dr, &ep_i, pi.sent[1], 32, now) == RECEIVED_KEEPALIVE);

	/* a 28-byte inner packet, counter 1, padded to 32 */
	uint8_t buf[16 + 64 + 31];
	uint8_t inner[28];
	CHECK(test_unhex(inner, sizeof(inner), "4500001c0001000040017cd90a6300020a6300010800f7ff00000000") == 28);
	memcpy(buf + 16, inner, 28);
	enum drop_reason drop;
	struct peer *chosen;
	CHECK(device_send_packet(di, buf + 16, 28, now, &drop, &chosen) == SEND_SENT && chosen == to_r);
	n = vector(section, "transport: 28-byte inner packet", expect, sizeof(expect));
	CHECK(pi.sent_count == 3 && pi.sent_len[2] == 64 && n == 64 && memcmp(pi.sent[2], expect, 64) == 0);
	CHECK(device_receive(dr, &ep_i, pi.sent[2], 64, now) == RECEIVED_DATA);
	CHECK(pr.delivered_len == 28 && memcmp(pr.delivered, inner, 28) == 0);

	/* the responder's first keepalive, counter 0 */
	peer_send_keepalive_now(to_i, now);
	n = vector(section, "transport: keepalive responder->initiator", expect, sizeof(expect));
	CHECK(pr.sent_count == 2 && pr.sent_len[1] == 32 && n == 32 && memcmp(pr.sent[1], expect, 32) == 0);
	CHECK(device_receive(di, &ep_r, pr.sent[1], 32, now) == RECEIVED_KEEPALIVE);

	device_free(di);
	device_free(dr);
}

static void handshake_vector_without_psk(void)
{
	run_case("---- case: no PSK", ON_DEVICE);
}

static void handshake_vector_with_psk(void)
{
	run_case("---- case: PSK", ON_DEVICE);
}

/* Opened apart (noise_open_initiation), and the response made apart
 * (noise_make_response), the same bytes come out. */
static void handshake_vector_opened_apart(void)
{
	run_case("---- case: no PSK", OPENED_APART);
	run_case("---- case: PSK", OPENED_APART);
	run_case("---- case: no PSK", OPENED_AND_MADE_APART);
	run_case("---- case: PSK", OPENED_AND_MADE_APART);
}

/* An opening made with a key the device no longer has is refused and
 * changes nothing; one of a static key no peer has counts as unknown. */
static void stale_or_foreign_openings_are_refused(void)
{
	uint8_t ipriv[32], ipub[32], rpriv[32], rpub[32], msg1[148], other[32], other_pub[32];
	const char *keys = "---- case: no PSK";
	CHECK(vector(keys, "initiator_static_private", ipriv, 32) == 32);
	CHECK(vector(keys, "initiator_static_public", ipub, 32) == 32);
	CHECK(vector(keys, "responder_static_private", rpriv, 32) == 32);
	CHECK(vector(keys, "responder_static_public", rpub, 32) == 32);
	CHECK(vector(keys, "message_1_initiation", msg1, sizeof(msg1)) == 148);
	uint64_t now = 5 * NSEC_PER_SEC, drops[DROP_REASON_COUNT];
	struct pinned pr = {.ephemeral_fill = 0xb0, .index = 0xaabbccdd};
	struct device *dr = pinned_device(&pr);
	device_set_private_key(dr, rpriv, now);
	device_up(dr, now);
	int err;
	struct peer *to_i = device_peer_create(dr, ipub, now, &err);
	CHECK(to_i != NULL);
	struct endpoint ep_i;
	uint8_t a4[4] = {192, 0, 2, 1};
	endpoint_from_bytes(&ep_i, AF_INET, a4, 51820);

	/* Opened with another key pair: the static key does not even decrypt,
	 * and a (pretended) successful opening under it is refused all the same. */
	memset(other, 0x77, sizeof(other));
	x25519_clamp(other);
	CHECK(x25519_public_from_private(other_pub, other));
	struct aead_ctx *aead = aead_ctx_new();
	struct noise_initiation_opening opening;
	CHECK(!noise_open_initiation(aead, other, other_pub, (const struct message_handshake_initiation *)msg1,
				     &opening));
	CHECK(noise_open_initiation(aead, rpriv, rpub, (const struct message_handshake_initiation *)msg1, &opening));
	memcpy(opening.responder_public, other_pub, 32);
	CHECK(device_admit_initiation(dr, &ep_i, msg1, 148, now));
	CHECK(device_receive_opened_initiation(dr, &ep_i, msg1, 148, &opening, now, NULL) == RECEIVED_DROPPED);
	device_get_drops(dr, drops);
	CHECK(drops[DROP_HANDSHAKE_DECRYPT] == 1 && pr.sent_count == 0);

	/* The right opening of the same message still works: nothing was stored. */
	CHECK(receive_initiation_opened_apart(dr, &ep_i, msg1, rpriv, rpub, now) == RECEIVED_HANDSHAKE);
	CHECK(pr.sent_count == 1 && pr.sent_len[0] == 92);

	/* The same initiation again: refused by its timestamp, after the opening. */
	CHECK(receive_initiation_opened_apart(dr, &ep_i, msg1, rpriv, rpub, now + NSEC_PER_SEC) == RECEIVED_DROPPED);
	device_get_drops(dr, drops);
	CHECK(drops[DROP_STALE_TIMESTAMP] == 1 && pr.sent_count == 1);

	/* A response made apart for an initiation replaced meanwhile (a newer
	 * one consumed) is refused, and the newer one's is sent. */
	struct noise_response_making first, second;
	device_free(dr); /* a fresh responder: msg1's timestamp is new to it */
	pr = (struct pinned){.ephemeral_fill = 0xb0, .index = 0xaabbccdd};
	dr = pinned_device(&pr);
	device_set_private_key(dr, rpriv, now);
	device_up(dr, now);
	to_i = device_peer_create(dr, ipub, now, &err);
	CHECK(to_i != NULL);
	CHECK(device_admit_initiation(dr, &ep_i, msg1, 148, now));
	CHECK(noise_open_initiation(aead, rpriv, rpub, (const struct message_handshake_initiation *)msg1, &opening));
	CHECK(device_receive_opened_initiation(dr, &ep_i, msg1, 148, &opening, now, &first) == RECEIVED_HANDSHAKE);
	CHECK(first.due && pr.sent_count == 0);
	CHECK(noise_make_response(aead, &first));
	/* Replaced: the peer's handshake state is cleared (as by our own
	 * initiation or a newer one); the made response no longer fits. */
	second = first;
	second.consumed_chaining_key[0] ^= 1;
	CHECK(!device_send_made_response(dr, &second, now) && pr.sent_count == 0);
	device_get_drops(dr, drops);
	CHECK(drops[DROP_BAD_STATE] == 1);
	/* The right one still goes out, once. */
	CHECK(device_send_made_response(dr, &first, now) && pr.sent_count == 1 && pr.sent_len[0] == 92);
	CHECK(!device_send_made_response(dr, &first, now) && pr.sent_count == 1);
	noise_response_making_wipe(&first);
	noise_response_making_wipe(&second);

	/* The peer removed while its initiation was being opened: unknown. */
	device_peer_remove(dr, to_i);
	CHECK(noise_open_initiation(aead, rpriv, rpub, (const struct message_handshake_initiation *)msg1, &opening));
	CHECK(device_receive_opened_initiation(dr, &ep_i, msg1, 148, &opening, now, NULL) == RECEIVED_DROPPED);
	device_get_drops(dr, drops);
	CHECK(drops[DROP_UNKNOWN_PEER] == 1);
	noise_initiation_opening_wipe(&opening);
	aead_ctx_free(aead);
	device_free(dr);
}

/* The cookie reply of the vector decrypts with the initiator's maker, and
 * the re-sent initiation then carries the vector's mac2. */
static void cookie_reply_vector(void)
{
	uint8_t rpub[32], msg1[148], reply[64], resent[148], cookie[16], nonce[24];
	CHECK(vector("---- case: no PSK", "responder_static_public", rpub, 32) == 32);
	CHECK(vector("---- case: no PSK", "message_1_initiation", msg1, sizeof(msg1)) == 148);
	CHECK(vector("---- cookie reply", "message_3_cookie_reply", reply, sizeof(reply)) == 64);
	CHECK(vector("---- cookie reply", "message_1 re-sent with mac2", resent, sizeof(resent)) == 148);
	CHECK(vector("---- cookie reply", "cookie value", cookie, sizeof(cookie)) == 16);
	CHECK(vector("---- cookie reply", "xchacha nonce", nonce, sizeof(nonce)) == 24);

	/* Building: the same cookie and nonce give the same reply bytes. */
	struct aead_ctx *aead = aead_ctx_new();
	uint8_t cookie_key[32], sealed[32];
	blake2s256(cookie_key, (const uint8_t *)"cookie--", 8, rpub, 32);
	CHECK(xaead_seal(aead, sealed, cookie, 16, msg1 + 116, 16, nonce, cookie_key));
	CHECK_MEM(sealed, reply + 32, 32);

	/* Consuming: the maker must have sent that mac1 first. */
	struct cookie_maker maker;
	cookie_maker_init(&maker, rpub);
	struct message_handshake_cookie msg;
	memcpy(&msg, reply, 64);
	CHECK(!cookie_consume_reply(&maker, aead, &msg, 1)); /* no mac1 sent yet */
	uint8_t out[148];
	memcpy(out, msg1, 148);
	cookie_add_macs(&maker, out, 148, 1);
	CHECK_MEM(out, msg1, 148); /* no cookie yet: mac2 is zero */
	CHECK(cookie_consume_reply(&maker, aead, &msg, 2));
	CHECK(!cookie_consume_reply(&maker, aead, &msg, 3)); /* one cookie per mac1 */
	cookie_add_macs(&maker, out, 148, 3);
	CHECK_MEM(out, resent, 148);
	/* Stale after 115 s: back to a zero mac2. */
	cookie_add_macs(&maker, out, 148, 2 + 115 * NSEC_PER_SEC);
	CHECK_MEM(out, msg1, 148);
	aead_ctx_free(aead);
}

int main(void)
{
	load_vectors();
	RUN(handshake_vector_without_psk);
	RUN(handshake_vector_with_psk);
	RUN(handshake_vector_opened_apart);
	RUN(stale_or_foreign_openings_are_refused);
	RUN(cookie_reply_vector);
	return test_finish("test_handshake");
}
