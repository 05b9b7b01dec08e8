/* flood_initiations: handshake initiations with a valid mac1, at a fixed
 * rate, from many source addresses — what an attacker who knows a
 * WireGuard host's public key can send to make it do a Diffie-Hellman per
 * datagram (tests/integration/test_roamd_handshake_flood.sh,
 * bench/bench_handshake_flood.sh).
 *
 *   flood_initiations TARGET_ADDR PORT PUBKEY_BASE64 RATE SECONDS SRC_ADDR...
 *
 * RATE is initiations per second (0: as fast as it goes). Each SRC_ADDR
 * must be an address of this host (the caller adds them); a socket is bound
 * to each and they take turns, 16 datagrams at a time. Every initiation
 * has a fresh sender index and ephemeral key (random bytes), so nothing
 * about it can be recognised or cached: only its mac1 is right, and the
 * sealed static key behind it authenticates nothing — the responder finds
 * out after its first scalar multiplication. Cookie replies that come
 * back are read and counted.
 *
 * Prints one line: flood: sent=N seconds=S rate=R cookies=C */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cookie.h"
#include "key_encoding.h"
#include "messages.h"

enum { BURST = 16, MAX_SOURCES = 4096 };

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;

/* xorshift64*: fast, and nothing here needs to be unpredictable. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void fill_random(uint8_t *p, size_t len)
{
	while (len) {
		uint64_t r = rnd();
		size_t n = len < 8 ? len : 8;
		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static int open_source(const char *addr, int family)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &in->sin_addr) != 1)
			return -1;
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
			return -1;
		sl = sizeof(*in6);
	}
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		fprintf(stderr, "flood: bind %s: %s\n", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads (and counts) what came back: cookie replies. */
static uint64_t drain(int fd)
{
	uint8_t buf[256];
	uint64_t n = 0;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == MESSAGE_COOKIE_LEN)
		n++;
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s TARGET_ADDR PORT PUBKEY_BASE64 RATE SECONDS SRC_ADDR...\n", argv[0]);
		return 2;
	}
	struct sockaddr_storage to = { 0 };
	socklen_t to_len;
	int family = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
	int port = atoi(argv[2]);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&to;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		to_len = sizeof(*in);
		if (inet_pton(AF_INET, argv[1], &in->sin_addr) != 1)
			return 2;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		to_len = sizeof(*in6);
		if (inet_pton(AF_INET6, argv[1], &in6->sin6_addr) != 1)
			return 2;
	}
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
	if (!key_from_base64(pub, argv[3])) {
		fprintf(stderr, "flood: bad public key\n");
		return 2;
	}
	double rate = atof(argv[4]), seconds = atof(argv[5]);
	int nsrc = 0;
	static int fds[MAX_SOURCES];
	for (int i = 6; i < argc && nsrc < MAX_SOURCES; i++) {
		int fd = open_source(argv[i], family);
		if (fd < 0)
			return 1;
		fds[nsrc++] = fd;
	}
	struct cookie_maker maker;
	cookie_maker_init(&maker, pub);
	rng_state = mono_ns() | 1;

	static uint8_t msgs[BURST][MESSAGE_INITIATION_LEN];
	struct mmsghdr mm[BURST];
	struct iovec iov[BURST];
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < BURST; i++) {
		iov[i] = (struct iovec){ .iov_base = msgs[i], .iov_len = MESSAGE_INITIATION_LEN };
		mm[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = to_len, .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	uint64_t start = mono_ns(), end = start + (uint64_t)(seconds * NSEC_PER_SEC);
	uint64_t sent = 0, cookies = 0, now = start;
	int src = 0;
	while ((now = mono_ns()) < end) {
		if (rate > 0) {
			uint64_t due = (uint64_t)((double)(now - start) * rate / NSEC_PER_SEC);
			if (sent >= due) {
				/* Ahead: wait for the next burst's time. */
				uint64_t wait = (uint64_t)(BURST * NSEC_PER_SEC / rate);
				struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(wait < 1000000 ? wait : 1000000) };
				nanosleep(&ts, NULL);
				continue;
			}
		}
		for (int i = 0; i < BURST; i++) {
			uint8_t *m = msgs[i];
			memset(m, 0, MESSAGE_INITIATION_LEN);
			le32_write(m, MESSAGE_HANDSHAKE_INITIATION);
			/* sender index, ephemeral, sealed static and timestamp */
			fill_random(m + 4, 4 + 32 + 48 + 28);
			cookie_add_macs(&maker, m, MESSAGE_INITIATION_LEN, now);
		}
		int n = sendmmsg(fds[src], mm, BURST, 0);
		if (n > 0)
			sent += (uint64_t)n;
		if ((sent / BURST) % 64 == 0)
			cookies += drain(fds[src]);
		src = (src + 1) % nsrc;
	}
	for (int i = 0; i < nsrc; i++) {
		cookies += drain(fds[i]);
		close(fds[i]);
	}
	double secs = (double)(now - start) / NSEC_PER_SEC;
	printf("flood: sent=%llu seconds=%.2f rate=%.0f cookies=%llu\n", (unsigned long long)sent, secs,
	       secs > 0 ? (double)sent / secs : 0.0, (unsigned long long)cookies);
	return 0;
}
