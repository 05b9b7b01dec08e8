/* A measurement run in a child process, its result read back over a pipe:
 * how doctor probes several peers at once (one shared window instead of a
 * few seconds per peer), while each probe keeps its own sockets, so one
 * peer's replies and ICMP errors are never read by another's. */
#ifndef ROAM_FORKED_H
#define ROAM_FORKED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct forked {
	pid_t pid;	/* 0: not running */
	int fd;		/* the read end, -1 when closed */
};

/* Runs fn(ctx, fd) in a child that then exits (_exit: no atexit handlers,
 * no stdio flush); fn writes its result to fd. 0, or -errno (nothing
 * started). */
int forked_start(struct forked *f, void (*fn)(void *ctx, int fd), void *ctx);
/* Writes all of buf (in the child): false if the parent went away. */
bool forked_write(int fd, const void *buf, size_t len);
/* Reads exactly len bytes of the child's result: false when it ended
 * early (it crashed or could not measure). */
bool forked_read(struct forked *f, void *buf, size_t len);
/* Closes the pipe and reaps the child (which may still be measuring). */
void forked_end(struct forked *f);
/* The same, its result no longer wanted: the child is killed first. */
void forked_cancel(struct forked *f);

#endif
