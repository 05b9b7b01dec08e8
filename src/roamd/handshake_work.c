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
 * round's data waits at most that long behind handshakes.
 *
 * An initiation's checks (mac1; under load the rate limit, mac2 or a
 * cookie reply) are made here, on the data thread; one that passes them
 * goes to the worker thread (handshake_worker.c), which does its
 * Diffie-Hellman on the other core, and comes back to be finished here
 * (peer, timestamp), in order, after a later round's data; if it
 * authenticated, its response goes to the worker to be made (three more
 * X25519) and comes back to be sent. Only the device's thread touches the
 * device. Responses we receive (which must name a handshake of ours, so a
 * flood of them stops at the index lookup) and, with
 * ROAMD_HANDSHAKE_THREADS=0, every message are handled here whole, within
 * the same budget.
 *
 * Whether the device is under load (and asks for cookies instead of doing
 * the Diffie-Hellman) is decided from measured work, not a model:
 *  - the backlog: messages waiting (in the queue, or submitted to the
 *    worker and not yet finished) whose work, at the cost of one X25519
 *    measured on this machine at start, adds up to UNDER_LOAD_BACKLOG_NS
 *    (at most UNDER_LOAD_QUEUE_LEN messages, the kernel's 1/8 of its
 *    queue);
 *  - the time: more than HANDSHAKE_SHARE_NS of every second spent on
 *    handshake messages, by both threads together, over a sliding second
 *    of WINDOW_SLOTS slots.
 * Either keeps the device under load for a second (device.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

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
	const char *threads = getenv("ROAMD_HANDSHAKE_THREADS");
	w->threaded = !threads || strcmp(threads, "0") != 0;
	if (threads && w->threaded && strcmp(threads, "1") != 0)
		log_info("handshakes: ROAMD_HANDSHAKE_THREADS=%s: one worker thread (the only other choice is 0)",
			 threads);
	if (w->threaded) {
		ret = handshake_worker_init(&w->worker);
		if (ret)
			return ret;
	}
	w->dh_ns = measure_one_dh();
	uint64_t per_message = DH_PER_MESSAGE * w->dh_ns;
	uint64_t limit = UNDER_LOAD_BACKLOG_NS / per_message;
	w->backlog_limit = limit < 8 ? 8 : limit > UNDER_LOAD_QUEUE_LEN ? UNDER_LOAD_QUEUE_LEN : (unsigned)limit;
	/* The model is replaced by what is measured here. */
	device_set_handshake_capacity(d->dev, 0);
	log_info("handshakes: queued (%u at most) behind the data, %llu us of them per round, initiations' "
		 "Diffie-Hellman %s; one X25519 takes %llu ns here: under load from %u waiting or %llu ms a second "
		 "spent",
		 (unsigned)HANDSHAKE_QUEUE_LEN, (unsigned long long)(HANDSHAKE_ROUND_NS / 1000),
		 w->threaded ? "on a worker thread" : "on this thread (ROAMD_HANDSHAKE_THREADS=0)",
		 (unsigned long long)w->dh_ns, w->backlog_limit, (unsigned long long)(HANDSHAKE_SHARE_NS / NSEC_PER_MSEC));
	return 0;
}

int handshake_work_start(struct daemon *d)
{
	struct handshake_work *w = &d->hs;
	if (!w->threaded)
		return 0;
	w->worker_watch = (struct watch){.kind = WATCH_HANDSHAKE};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->worker_watch};
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, w->worker.done_fd, &ev) < 0)
		return -errno;
	return handshake_worker_start(&w->worker);
}

void handshake_work_free(struct daemon *d)
{
	if (d->hs.threaded)
		handshake_worker_free(&d->hs.worker);
	handshake_queue_free(&d->hs.queue);
}

void handshake_work_event(struct daemon *d)
{
	handshake_worker_drain_wakeups(&d->hs.worker);
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
	unsigned waiting = w->queue.count + (w->threaded ? handshake_worker_backlog(&w->worker) : 0);
	if (waiting >= w->backlog_limit) {
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

unsigned handshake_work_room(const struct daemon *d)
{
	const struct handshake_work *w = &d->hs;
	/* Handled where they arrive: the reading is the only bound. */
	if (w->inline_mode)
		return UDP_BATCH;
	return HANDSHAKE_QUEUE_LEN - w->queue.count;
}

/* Whether a round has anything to do: messages in the queue (unless they
 * wait for room at the worker, which wakes the loop when it makes some), or
 * openings to finish. */
bool handshake_work_pending(const struct daemon *d)
{
	const struct handshake_work *w = &d->hs;
	if (!w->threaded)
		return w->queue.count != 0;
	return handshake_worker_done(&w->worker) ||
	       (w->queue.count && handshake_worker_backlog(&w->worker) < HANDSHAKE_WORKER_LEN);
}

/* The worker's time since the last look joins the window. */
static void note_worker_work(struct handshake_work *w, uint64_t now)
{
	uint64_t busy = atomic_load_explicit(&w->worker.busy_ns, memory_order_relaxed);
	if (busy != w->worker_busy_seen) {
		note_work(w, now, busy - w->worker_busy_seen);
		w->worker_ns += busy - w->worker_busy_seen;
	}
	w->worker_busy_seen = busy;
}

/* An opened initiation finished; if it authenticated, its response goes
 * back to the worker to be made (or, with no room there, is made and sent
 * at once on this thread). */
static void finish_opening(struct daemon *d, struct handshake_job *job, uint64_t now)
{
	struct handshake_work *w = &d->hs;
	struct handshake_job *next = handshake_worker_slot(&w->worker);
	device_receive_opened_initiation(d->dev, &job->from, job->msg, sizeof(job->msg), &job->opening, now,
					 next ? &next->making : NULL);
	if (next && next->making.due) {
		next->kind = JOB_MAKE_RESPONSE;
		handshake_worker_submit(&w->worker);
		w->responses_offloaded++;
	}
}

/* Jobs the worker did: finished here, in order. */
static uint64_t finish_opened(struct daemon *d, uint64_t start, uint64_t now)
{
	struct handshake_work *w = &d->hs;
	struct handshake_job *job;
	uint64_t responses = w->responses_offloaded;
	while (now - start < HANDSHAKE_ROUND_NS && (job = handshake_worker_done(&w->worker))) {
		if (job->kind == JOB_MAKE_RESPONSE)
			device_send_made_response(d->dev, &job->making, now);
		else
			finish_opening(d, job, now);
		handshake_worker_release(&w->worker);
		uint64_t after = now_ns();
		note_work(w, after, after - now);
		now = after;
	}
	if (w->responses_offloaded != responses)
		handshake_worker_kick(&w->worker);
	return now;
}

/* An initiation that passes its checks goes to the worker; false when the
 * worker has no room (it stays queued). */
static bool submit_initiation(struct daemon *d, struct queued_handshake *m, uint64_t now)
{
	struct handshake_work *w = &d->hs;
	struct handshake_job *job = handshake_worker_slot(&w->worker);
	if (!job)
		return false;
	if (device_admit_initiation(d->dev, &m->from, m->data, m->len, now) &&
	    device_private_key(d->dev, job->static_private) && device_public_key(d->dev, job->static_public)) {
		job->kind = JOB_OPEN_INITIATION;
		job->from = m->from;
		memcpy(job->msg, m->data, sizeof(job->msg));
		handshake_worker_submit(&w->worker);
		w->offloaded++;
	}
	return true;
}

void handshake_work_run(struct daemon *d)
{
	struct handshake_work *w = &d->hs;
	uint64_t start = now_ns(), now = start;
	uint64_t offloaded = w->offloaded;
	if (w->threaded) {
		note_worker_work(w, now);
		now = finish_opened(d, start, now);
	}
	struct queued_handshake *m;
	while (now - start < HANDSHAKE_ROUND_NS && (m = handshake_queue_peek(&w->queue))) {
		judge_load(d, now);
		if (w->threaded && m->len == MESSAGE_INITIATION_LEN) {
			if (!submit_initiation(d, m, now))
				break;
		} else {
			device_receive(d->dev, &m->from, m->data, m->len, now);
		}
		handshake_queue_pop(&w->queue);
		uint64_t after = now_ns();
		note_work(w, after, after - now);
		w->processed++;
		now = after;
	}
	/* The cookie replies this round made leave together. */
	datapath_flush(d);
	uint64_t flushed = now_ns();
	note_work(w, flushed, flushed - now);
	if (w->offloaded != offloaded)
		handshake_worker_kick(&w->worker);
}

void handshake_work_log_stats(struct daemon *d)
{
	const struct handshake_work *w = &d->hs;
	uint64_t computed, cookies;
	device_get_handshake_counts(d->dev, &computed, &cookies);
	uint64_t worker_ns = w->threaded ? atomic_load(&w->worker.busy_ns) : 0;
	uint64_t here_ns = w->busy_ns > w->worker_ns ? w->busy_ns - w->worker_ns : 0;
	log_info("handshakes: %llu queued, %llu dropped with the queue full, %llu handled in %llu ms here (%llu "
		 "initiations opened and %llu responses made by the worker thread, in %llu ms); %llu reached the "
		 "Diffie-Hellman, %llu answered with a cookie; taken under load: %llu for the backlog, %llu for the "
		 "time spent",
		 (unsigned long long)w->queue.queued, (unsigned long long)w->queue.dropped,
		 (unsigned long long)w->processed, (unsigned long long)(here_ns / NSEC_PER_MSEC),
		 (unsigned long long)w->offloaded, (unsigned long long)w->responses_offloaded,
		 (unsigned long long)(worker_ns / NSEC_PER_MSEC), (unsigned long long)computed,
		 (unsigned long long)cookies, (unsigned long long)w->backlog_reports,
		 (unsigned long long)w->time_reports);
}
