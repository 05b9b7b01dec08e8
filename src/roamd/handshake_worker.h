/* The worker thread that does handshakes' Diffie-Hellman (handshake_worker.c):
 * it opens initiations and makes responses, off the data path's thread. */
#ifndef ROAMD_HANDSHAKE_WORKER_H
#define ROAMD_HANDSHAKE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "messages.h"
#include "noise.h"

/* Initiations being opened or waiting to be finished; a power of two. */
enum { HANDSHAKE_WORKER_LEN = 256 };

enum handshake_job_kind {
	JOB_OPEN_INITIATION, /* noise_open_initiation: msg, keys -> opening */
	JOB_MAKE_RESPONSE,   /* noise_make_response: making, in and out */
};

struct handshake_job {
	enum handshake_job_kind kind;
	struct endpoint from;
	uint8_t msg[MESSAGE_INITIATION_LEN];
	/* Copied at submission (the device may change its key meanwhile;
	 * the opening names the key it used), wiped by the worker. */
	uint8_t static_private[NOISE_PRIVATE_KEY_LEN];
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	struct noise_initiation_opening opening; /* the worker's answer */
	struct noise_response_making making;
};

/* One ring, three cursors, each written by one thread only:
 *   submitted  (data thread)  jobs [opened, submitted) wait for the worker
 *   opened     (worker)       jobs [finished, opened) wait for the data thread
 *   finished   (data thread)  slots before it are free again
 * A job belongs to whoever's range holds it; a cursor is published with a
 * release store after its jobs are written and read with an acquire load
 * before they are read, so a job is never touched by two threads at once
 * and no lock is taken. */
struct handshake_worker {
	struct handshake_job *ring;
	_Atomic uint32_t submitted, opened;
	uint32_t finished;
	_Atomic bool stop;
	_Atomic uint64_t busy_ns; /* the worker's time on openings, since start */
	int wake_fd;		  /* eventfd: the data thread wakes the worker */
	int done_fd;		  /* eventfd: the worker wakes the loop (epoll) */
	pthread_t thread;
	bool running;
	bool started; /* the thread reached its loop (set before `ready`) */
};

int handshake_worker_init(struct handshake_worker *w);
int handshake_worker_start(struct handshake_worker *w);
/* Stops and joins the thread, wipes and frees the ring. */
void handshake_worker_free(struct handshake_worker *w);

/* Data thread: a free slot to fill and submit, or NULL when the ring is full. */
struct handshake_job *handshake_worker_slot(struct handshake_worker *w);
void handshake_worker_submit(struct handshake_worker *w);
/* After a round's submissions: one wake-up for all of them. */
void handshake_worker_kick(struct handshake_worker *w);
/* Data thread: the oldest opened job, or NULL; handshake_worker_release
 * frees its slot (and wipes it). */
struct handshake_job *handshake_worker_done(const struct handshake_worker *w);
void handshake_worker_release(struct handshake_worker *w);
/* Jobs submitted and not yet released. */
unsigned handshake_worker_backlog(const struct handshake_worker *w);
/* The loop saw done_fd readable: empties its counter. */
void handshake_worker_drain_wakeups(struct handshake_worker *w);

#endif
