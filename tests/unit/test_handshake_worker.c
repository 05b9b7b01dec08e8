/* The handshake worker thread (src/roamd/handshake_worker.c): jobs go in
 * and come back in order, opened exactly as noise_open_initiation opens
 * them on this thread, with the private key wiped; responses made as
 * noise_make_response makes them; the ring is bounded; stopping joins the
 * thread with jobs still in it. */
#include <errno.h>
#include <poll.h>

#include "crypto.h"
#include "device.h"
#include "handshake_worker.h"
#include "test.h"

struct capture {
	uint8_t sent[148];
	size_t sent_len;
	uint32_t draws;
};

static void capture_send(void *ctx, struct peer *peer, const struct endpoint *to, uint8_t *data, size_t len)
{
	struct capture *c = ctx;
	(void)peer, (void)to;
	if (len == sizeof(c->sent)) {
		memcpy(c->sent, data, len);
		c->sent_len = len;
	}
}

static void capture_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	(void)ctx, (void)peer, (void)data, (void)len;
}

/* Distinct draws, so every initiation has its own ephemeral key. */
static void counting_random(void *ctx, void *buf, size_t len)
{
	struct capture *c = ctx;
	c->draws++;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(c->draws * 31 + i);
}

static uint64_t fixed_wall(void *ctx)
{
	(void)ctx;
	return 1700000000ULL * NSEC_PER_SEC;
}

static uint8_t responder_private[32], responder_public[32];

/* n real initiations to responder_public, from one initiator. */
static void make_initiations(uint8_t (*msgs)[148], int n)
{
	struct capture c = {0};
	struct device_io io = {
		.ctx = &c, .send = capture_send, .deliver = capture_deliver, .random = counting_random,
		.wall_ns = fixed_wall,
	};
	struct device *dev = device_new(&io);
	uint8_t priv[32];
	memset(priv, 0x42, sizeof(priv));
	uint64_t now = NSEC_PER_SEC;
	device_set_private_key(dev, priv, now);
	device_up(dev, now);
	int err;
	struct peer *peer = device_peer_create(dev, responder_public, now, &err);
	struct endpoint ep;
	uint8_t addr[4] = {192, 0, 2, 7};
	endpoint_from_bytes(&ep, AF_INET, addr, 51820);
	peer_set_endpoint(peer, &ep);
	for (int i = 0; i < n; i++) {
		c.sent_len = 0;
		/* Each a handshake attempt of its own (REKEY_TIMEOUT apart). */
		now += 10 * NSEC_PER_SEC;
		peer_send_keepalive_now(peer, now);
		CHECK(c.sent_len == 148);
		memcpy(msgs[i], c.sent, 148);
	}
	device_free(dev);
}

static void set_up_keys(void)
{
	memset(responder_private, 0x24, sizeof(responder_private));
	x25519_clamp(responder_private);
	CHECK(x25519_public_from_private(responder_public, responder_private));
}

static void submit(struct handshake_worker *w, const uint8_t msg[148])
{
	struct handshake_job *job = handshake_worker_slot(w);
	CHECK(job != NULL);
	if (!job)
		return;
	job->kind = JOB_OPEN_INITIATION;
	memcpy(job->msg, msg, 148);
	memcpy(job->static_private, responder_private, 32);
	memcpy(job->static_public, responder_public, 32);
	handshake_worker_submit(w);
}

/* Waits (bounded, on done_fd) for the next opened job. */
static struct handshake_job *wait_done(struct handshake_worker *w)
{
	for (int i = 0; i < 500; i++) {
		struct handshake_job *job = handshake_worker_done(w);
		if (job)
			return job;
		struct pollfd p = {.fd = w->done_fd, .events = POLLIN};
		poll(&p, 1, 10);
		handshake_worker_drain_wakeups(w);
	}
	return NULL;
}

enum { JOBS = 40 };

static void jobs_come_back_in_order_opened_as_here(void)
{
	set_up_keys();
	static uint8_t msgs[JOBS][148];
	make_initiations(msgs, JOBS);
	/* One forged: its static key does not decrypt. */
	msgs[JOBS / 2][40] ^= 1;

	struct handshake_worker w;
	CHECK(handshake_worker_init(&w) == 0);
	CHECK(handshake_worker_start(&w) == 0);
	struct aead_ctx *aead = aead_ctx_new();
	int got = 0;
	/* In two batches, the second submitted while the first comes back. */
	for (int i = 0; i < JOBS / 2; i++)
		submit(&w, msgs[i]);
	handshake_worker_kick(&w);
	for (int i = JOBS / 2; i < JOBS; i++)
		submit(&w, msgs[i]);
	handshake_worker_kick(&w);
	CHECK(handshake_worker_backlog(&w) == JOBS);
	for (; got < JOBS; got++) {
		struct handshake_job *job = wait_done(&w);
		CHECK(job != NULL);
		if (!job)
			break;
		CHECK_MEM(job->msg, msgs[got], 148);
		struct noise_initiation_opening here;
		bool opened = noise_open_initiation(aead, responder_private, responder_public,
						    (const struct message_handshake_initiation *)msgs[got], &here);
		CHECK(opened == (got != JOBS / 2));
		CHECK(job->opening.opened == opened);
		CHECK_MEM(&job->opening, &here, sizeof(here));
		CHECK(crypto_is_zero(job->static_private, 32));
		noise_initiation_opening_wipe(&here);
		handshake_worker_release(&w);
	}
	CHECK(got == JOBS);
	CHECK(handshake_worker_backlog(&w) == 0 && handshake_worker_done(&w) == NULL);
	CHECK(atomic_load(&w.busy_ns) > 0);
	aead_ctx_free(aead);
	handshake_worker_free(&w);
}

/* HANDSHAKE_WORKER_LEN jobs fill it; a slot frees only when released. */
static void the_ring_is_bounded(void)
{
	set_up_keys();
	static uint8_t msg[1][148];
	make_initiations(msg, 1);
	struct handshake_worker w;
	CHECK(handshake_worker_init(&w) == 0);
	/* Not started: nothing is opened, so the ring only fills. */
	for (int i = 0; i < HANDSHAKE_WORKER_LEN; i++)
		submit(&w, msg[0]);
	CHECK(handshake_worker_slot(&w) == NULL);
	CHECK(handshake_worker_backlog(&w) == HANDSHAKE_WORKER_LEN);
	CHECK(handshake_worker_start(&w) == 0);
	handshake_worker_kick(&w);
	struct handshake_job *job = wait_done(&w);
	CHECK(job != NULL && job->opening.opened);
	CHECK(handshake_worker_slot(&w) == NULL); /* opened is not released */
	handshake_worker_release(&w);
	CHECK(handshake_worker_slot(&w) != NULL);
	/* Stopped with most jobs still in it: joins, wipes, frees. */
	handshake_worker_free(&w);
	CHECK(w.ring == NULL && w.wake_fd < 0 && w.done_fd < 0);
}

/* A response's making comes back computed as noise_make_response computes
 * it here, its secrets (the PSK, the randomness) wiped. */
static void responses_are_made_as_here(void)
{
	struct noise_response_making prepared;
	memset(&prepared, 0, sizeof(prepared));
	uint8_t priv[32];
	memset(priv, 0x31, sizeof(priv));
	x25519_clamp(priv);
	CHECK(x25519_public_from_private(prepared.initiator_static, priv));
	memset(priv, 0x32, sizeof(priv));
	x25519_clamp(priv);
	CHECK(x25519_public_from_private(prepared.remote_ephemeral, priv));
	memset(prepared.preshared_key, 0x33, 32);
	memset(prepared.random, 0x34, 32);
	memset(prepared.chaining_key, 0x35, 32);
	memset(prepared.hash, 0x36, 32);
	prepared.due = true;

	struct handshake_worker w;
	CHECK(handshake_worker_init(&w) == 0);
	CHECK(handshake_worker_start(&w) == 0);
	struct handshake_job *job = handshake_worker_slot(&w);
	job->kind = JOB_MAKE_RESPONSE;
	job->making = prepared;
	handshake_worker_submit(&w);
	handshake_worker_kick(&w);
	struct aead_ctx *aead = aead_ctx_new();
	struct noise_response_making here = prepared;
	CHECK(noise_make_response(aead, &here));
	job = wait_done(&w);
	CHECK(job != NULL && job->kind == JOB_MAKE_RESPONSE && job->making.made);
	if (job) {
		CHECK_MEM(&job->making, &here, sizeof(here));
		CHECK(crypto_is_zero(job->making.preshared_key, 32) && crypto_is_zero(job->making.random, 32));
		handshake_worker_release(&w);
	}
	aead_ctx_free(aead);
	handshake_worker_free(&w);
}

int main(void)
{
	RUN(jobs_come_back_in_order_opened_as_here);
	RUN(the_ring_is_bounded);
	RUN(responses_are_made_as_here);
	return test_finish("test_handshake_worker");
}
