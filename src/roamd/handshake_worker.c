/* The handshake worker: a second thread that does the expensive part of
 * an initiation, the X25519 of its ephemeral key with our static key and
 * the decryption of its static key (noise_open_initiation), so that a
 * flood of initiations costs the data path's thread only their cheap
 * checks (mac1, cookies, the rate limit: device_admit_initiation); and,
 * for one that authenticated, the response's three X25519
 * (noise_make_response).
 *
 * What crosses between the threads, and how (docs/handshake-load.md):
 *  - the data thread admits an initiation, copies it with our key pair
 *    into a slot of the ring (handshake_worker.h) and publishes it by
 *    advancing `submitted`; after a round's submissions one write to
 *    wake_fd wakes the worker if it sleeps;
 *  - the worker opens the jobs in order, using nothing but the job and
 *    its own AEAD context, wipes the job's private key, advances `opened`
 *    and writes done_fd, which the loop's epoll watches;
 *  - the data thread, after its round's data, finishes the opened jobs
 *    against the device (peer lookup, timestamp, the peer's state: on the
 *    one thread that owns it) and frees their slots; an initiation that
 *    authenticated comes back as a JOB_MAKE_RESPONSE job with what the
 *    response needs copied from the peer (noise_prepare_response), and
 *    once made, the data thread installs and sends it
 *    (device_send_made_response) unless the peer moved on meanwhile.
 * No lock: each cursor has one writer, and the release/acquire pair on it
 * hands the slots over. The device, peers and keypairs are never seen by
 * the worker, so the core stays single-owner. The ring is bounded
 * (HANDSHAKE_WORKER_LEN): when it is full, initiations stay in the
 * handshake queue, whose backlog puts the device under load. */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon.h"
#include "crypto.h"
#include "handshake_worker.h"

#define SLOT(w, i) (&(w)->ring[(i) & (HANDSHAKE_WORKER_LEN - 1)])

int handshake_worker_init(struct handshake_worker *w)
{
	memset(w, 0, sizeof(*w));
	w->wake_fd = w->done_fd = -1;
	/* Holds key copies and intermediate secrets: locked, never dumped. */
	w->ring = secmem_alloc(HANDSHAKE_WORKER_LEN * sizeof(*w->ring));
	if (!w->ring)
		return -ENOMEM;
	w->wake_fd = eventfd(0, EFD_CLOEXEC);
	w->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0 || w->done_fd < 0) {
		int err = -errno;
		handshake_worker_free(w);
		return err;
	}
	return 0;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

/* Blocks until the data thread signals (or the counter already holds a
 * signal given while we were busy: no wake-up is lost). */
static void wait_for_work(struct handshake_worker *w)
{
	uint64_t count;
	ssize_t n;
	do
		n = read(w->wake_fd, &count, sizeof(count));
	while (n < 0 && errno == EINTR);
}

struct start {
	struct handshake_worker *w;
	sem_t ready;
};

static void *worker_main(void *arg)
{
	struct start *start = arg;
	struct handshake_worker *w = start->w;
	struct aead_ctx *aead = aead_ctx_new();
	/* Set up (the C library's own calls for a new thread, rseq among
	 * them, are behind us): the seccomp filter may come. */
	w->started = aead != NULL;
	sem_post(&start->ready);
	uint32_t next = atomic_load_explicit(&w->opened, memory_order_relaxed);
	while (aead && !atomic_load_explicit(&w->stop, memory_order_acquire)) {
		uint32_t until = atomic_load_explicit(&w->submitted, memory_order_acquire);
		if (next == until) {
			wait_for_work(w);
			continue;
		}
		struct handshake_job *job = SLOT(w, next);
		uint64_t t0 = now_ns();
		if (job->kind == JOB_MAKE_RESPONSE) {
			noise_make_response(aead, &job->making);
		} else {
			noise_open_initiation(aead, job->static_private, job->static_public,
					      (const struct message_handshake_initiation *)job->msg, &job->opening);
			crypto_wipe(job->static_private, sizeof(job->static_private));
		}
		atomic_fetch_add_explicit(&w->busy_ns, now_ns() - t0, memory_order_relaxed);
		atomic_store_explicit(&w->opened, ++next, memory_order_release);
		signal_fd(w->done_fd);
	}
	aead_ctx_free(aead);
	return NULL;
}

/* Returns once the thread runs its loop, so that whatever it calls before
 * (the C library's thread start, OpenSSL's set-up) precedes the sandbox. */
int handshake_worker_start(struct handshake_worker *w)
{
	struct start start = {.w = w};
	if (sem_init(&start.ready, 0, 0) < 0)
		return -errno;
	int err = pthread_create(&w->thread, NULL, worker_main, &start);
	if (!err) {
		w->running = true;
		while (sem_wait(&start.ready) < 0 && errno == EINTR)
			;
		if (!w->started)
			err = ENOMEM;
	}
	sem_destroy(&start.ready);
	return -err;
}

void handshake_worker_free(struct handshake_worker *w)
{
	if (w->running) {
		atomic_store_explicit(&w->stop, true, memory_order_release);
		signal_fd(w->wake_fd);
		pthread_join(w->thread, NULL);
		w->running = false;
	}
	if (w->ring) {
		crypto_wipe(w->ring, HANDSHAKE_WORKER_LEN * sizeof(*w->ring));
		secmem_free(w->ring);
		w->ring = NULL;
	}
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->done_fd >= 0)
		close(w->done_fd);
	w->wake_fd = w->done_fd = -1;
}

struct handshake_job *handshake_worker_slot(struct handshake_worker *w)
{
	uint32_t submitted = atomic_load_explicit(&w->submitted, memory_order_relaxed);
	if (submitted - w->finished >= HANDSHAKE_WORKER_LEN)
		return NULL;
	return SLOT(w, submitted);
}

void handshake_worker_submit(struct handshake_worker *w)
{
	uint32_t submitted = atomic_load_explicit(&w->submitted, memory_order_relaxed);
	atomic_store_explicit(&w->submitted, submitted + 1, memory_order_release);
}

void handshake_worker_kick(struct handshake_worker *w)
{
	signal_fd(w->wake_fd);
}

struct handshake_job *handshake_worker_done(const struct handshake_worker *w)
{
	uint32_t opened = atomic_load_explicit(&w->opened, memory_order_acquire);
	return opened != w->finished ? SLOT(w, w->finished) : NULL;
}

void handshake_worker_release(struct handshake_worker *w)
{
	struct handshake_job *job = SLOT(w, w->finished);
	noise_initiation_opening_wipe(&job->opening);
	noise_response_making_wipe(&job->making);
	w->finished++;
}

unsigned handshake_worker_backlog(const struct handshake_worker *w)
{
	return atomic_load_explicit(&w->submitted, memory_order_relaxed) - w->finished;
}

void handshake_worker_drain_wakeups(struct handshake_worker *w)
{
	uint64_t count;
	while (read(w->done_fd, &count, sizeof(count)) > 0)
		;
}
