/* Handshake work, off the data path.
 *
 * An initiation costs the responder four X25519 scalar multiplications; a
 * flood of them with a valid mac1 (anyone who knows our public key can make
 * one) is the cheapest way to take a WireGuard host's CPU. When the loop
 * handled every datagram in arrival order, such a flood starved the data
 * of established sessions: at 100,000 initiations a second a ping through
 * the tunnel lost a fifth of its packets.
 *
 * So the data path does not handle handshake messages (initiations and
 * responses) where it reads them: it copies them into a bounded queue
 * (handshake_queue.h) and goes on with the data. After each loop round's
 * data, this file takes messages from the queue for at most
 * HANDSHAKE_ROUND_NS of work, then gives the loop back, so the next
 * round's data waits at most that long behind handshakes. Everything runs
 * on the one thread: the engine stays single-owner, no lock anywhere, and
 * a handshake's result (a session, a response) is in place before the
 * next datagram is read. (A worker thread could do the scalar
 * multiplications on a second core; on a 2-core host shared with the
 * kernel's network work the budget gives the same guarantee, data first,
 * without handing peers between threads.)
 *
 * Whether the device is under load (and asks for cookies instead of doing
 * the Diffie-Hellman) is decided from measured work, not a model:
 *  - the backlog: messages waiting whose work, at the cost of one X25519
 *    measured on this machine at start, adds up to UNDER_LOAD_BACKLOG_NS
 *    (at most UNDER_LOAD_QUEUE_LEN messages, the kernel's 1/8 of its
 *    queue);
 *  - the time: more than HANDSHAKE_SHARE_NS of every second spent on
 *    handshake messages, over a sliding second of WINDOW_SLOTS slots.
 * Either keeps the device under load for a second (device.h). */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "daemon.h"
#include "log.h"

#define HANDSHAKE_ROUND_NS (250 * 1000ULL) /* 250 us */
#define UNDER_LOAD_BACKLOG_NS (20 * NSEC_PER_MSEC)
#define HANDSHAKE_SHARE_NS (NSEC_PER_SEC / 8)
#define WINDOW_SLOT_NS (NSEC_PER_SEC / WINDOW_SLOTS)
/* X25519 operations in a responder's handling of an initiation: the
 * ephemeral-static DH, its own ephemeral key, ephemeral-ephemeral and
 * static-ephemeral (the static-static one is precomputed per peer). */
enum { DH_PER_MESSAGE = 4, CALIBRATION_RUNS = 16 };

/* The fastest of a few X25519 runs (the first warms the caches). */
static uint64_t measure_one_dh(void)
{
	uint8_t scalar[32], point[32], out[32];
	memset(scalar, 0x5a, sizeof(scalar));
	x25519_clamp(scalar);
	x25519_public_from_private(point, scalar);
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < CALIBRATION_RUNS; i++) {
		uint64_t t0 = now_ns();
		x25519(out, scalar, point);
		uint64_t dt = now_ns() - t0;
		if (dt < best)
			best = dt;
		memcpy(point, out, sizeof(point));
	}
	crypto_wipe(scalar, sizeof(scalar));
	return best ? best : 1;
}

int handshake_work_init(struct daemon *d)
{
	struct handshake_work *w = &d->hs;
	memset(w, 0, sizeof(*w));
	w->inline_mode = env_on("ROAMD_HANDSHAKE_INLINE");
	if (w->inline_mode) {
		log_info("handshakes: handled inline, in arrival order (ROAMD_HANDSHAKE_INLINE), load modelled");
		return 0;
	}
	int ret = handshake_queue_init(&w->queue);
	if (ret)
		return ret;
	w->dh_ns = measure_one_dh();
	uint64_t per_message = DH_PER_MESSAGE * w->dh_ns;
	uint64_t limit = UNDER_LOAD_BACKLOG_NS / per_message;
	w->backlog_limit = limit < 8 ? 8 : limit > UNDER_LOAD_QUEUE_LEN ? UNDER_LOAD_QUEUE_LEN : (unsigned)limit;
	/* The model is replaced by what is measured here. */
	device_set_handshake_capacity(d->dev, 0);
	log_info("handshakes: queued (%u at most) behind the data, %llu us of them per round; one X25519 takes "
		 "%llu ns here: under load from %u waiting or %llu ms a second spent",
		 (unsigned)HANDSHAKE_QUEUE_LEN, (unsigned long long)(HANDSHAKE_ROUND_NS / 1000),
		 (unsigned long long)w->dh_ns, w->backlog_limit, (unsigned long long)(HANDSHAKE_SHARE_NS / NSEC_PER_MSEC));
	return 0;
}

void handshake_work_free(struct daemon *d)
{
	handshake_queue_free(&d->hs.queue);
}

/* Time spent on handshakes in the last second (the slots younger than it). */
static uint64_t recent_work(const struct handshake_work *w, uint64_t now)
{
	uint64_t epoch = now / WINDOW_SLOT_NS, sum = 0;
	for (unsigned i = 0; i < WINDOW_SLOTS; i++)
		if (w->slot_epoch[i] + WINDOW_SLOTS > epoch)
			sum += w->slot_ns[i];
	return sum;
}

static void note_work(struct handshake_work *w, uint64_t now, uint64_t spent)
{
	uint64_t epoch = now / WINDOW_SLOT_NS;
	unsigned i = (unsigned)(epoch % WINDOW_SLOTS);
	if (w->slot_epoch[i] != epoch) {
		w->slot_epoch[i] = epoch;
		w->slot_ns[i] = 0;
	}
	w->slot_ns[i] += spent;
	w->busy_ns += spent;
}

static void judge_load(struct daemon *d, uint64_t now)
{
	struct handshake_work *w = &d->hs;
	if (w->queue.count >= w->backlog_limit) {
		device_report_under_load(d->dev, now);
		w->backlog_reports++;
	} else if (recent_work(w, now) >= HANDSHAKE_SHARE_NS) {
		device_report_under_load(d->dev, now);
		w->time_reports++;
	}
}

bool handshake_work_defer(struct daemon *d, const struct endpoint *from, const uint8_t *buf, size_t len,
			  uint64_t now)
{
	struct handshake_work *w = &d->hs;
	if (w->inline_mode)
		return false;
	enum message_type type = message_type_of(buf, len);
	/* Anything else of the wrong size the engine refuses and counts. */
	if (!(type == MESSAGE_HANDSHAKE_INITIATION && len == MESSAGE_INITIATION_LEN) &&
	    !(type == MESSAGE_HANDSHAKE_RESPONSE && len == MESSAGE_RESPONSE_LEN))
		return false;
	if (!handshake_queue_push(&w->queue, from, buf, len, now))
		device_count_drop(d->dev, NULL, DROP_HANDSHAKE_QUEUE_FULL);
	return true;
}

bool handshake_work_pending(const struct daemon *d)
{
	return d->hs.queue.count != 0;
}

void handshake_work_run(struct daemon *d)
{
	struct handshake_work *w = &d->hs;
	uint64_t start = now_ns(), now = start;
	struct queued_handshake *m;
	while ((m = handshake_queue_peek(&w->queue))) {
		judge_load(d, now);
		device_receive(d->dev, &m->from, m->data, m->len, now);
		handshake_queue_pop(&w->queue);
		uint64_t after = now_ns();
		note_work(w, after, after - now);
		w->processed++;
		now = after;
		if (now - start >= HANDSHAKE_ROUND_NS)
			break;
	}
}

void handshake_work_log_stats(struct daemon *d)
{
	const struct handshake_work *w = &d->hs;
	uint64_t computed, cookies;
	device_get_handshake_counts(d->dev, &computed, &cookies);
	log_info("handshakes: %llu queued, %llu dropped with the queue full, %llu handled in %llu ms; %llu reached "
		 "the Diffie-Hellman, %llu answered with a cookie; taken under load: %llu for the backlog, %llu "
		 "for the time spent",
		 (unsigned long long)w->queue.queued, (unsigned long long)w->queue.dropped,
		 (unsigned long long)w->processed, (unsigned long long)(w->busy_ns / NSEC_PER_MSEC),
		 (unsigned long long)computed, (unsigned long long)cookies, (unsigned long long)w->backlog_reports,
		 (unsigned long long)w->time_reports);
}
