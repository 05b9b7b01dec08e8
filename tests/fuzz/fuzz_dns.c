/* libFuzzer: the DNS answers behind a peer's host name (src/roamd/names.c).
 *
 * roamd asks c-ares with ares_getaddrinfo, so the bytes a resolver (or
 * anyone who can spoof one) sends are parsed inside c-ares, and what it
 * makes of them goes through names_answer_take (names_answer.c) to
 * become the peer's candidates. The target runs that same path: a
 * channel set up as names.c sets up its own, whose sockets are ours
 * (ares_set_socket_functions), so that each query c-ares sends is
 * answered with the next block of the input, the query's id written
 * over the block's first two bytes (the rest, question included, is
 * the fuzzer's). Each block also goes through ares_parse_a_reply and
 * ares_parse_aaaa_reply with their TTLs, the older way to the same.
 *
 * Input: blocks, each two bytes of length (big-endian) then the bytes;
 * the queries for "peer.example" are answered in the order sent (A, then
 * AAAA for c-ares 1.18). Corpus: tests/fuzz/corpus/fuzz_dns, seeded by
 * tests/fuzz/seed_dns.py (A, AAAA, CNAME chains, 100 addresses, TTL 0 and
 * 2^31-1, truncated and refused answers).
 *
 * Beyond "no crash": at most NAMES_MAX_ADDRS addresses kept, no more than
 * the answer had, none twice, each one of the answer's with the peer's
 * port; the TTL held within [NAMES_TTL_MIN, NAMES_TTL_MAX]; the callback
 * runs exactly once; the older parsers fill no more TTL slots than given.
 *
 * c-ares is the system's library, not built with the fuzzer's coverage:
 * what guides the search, beside roamd's own code, is what c-ares made of
 * each input (its status, how many addresses, CNAMEs and queries, the TTLs'
 * kind), counted as coverage through libFuzzer's extra counters. */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "names_answer.h"

enum {
	PEER_PORT = 51820,
	MAX_QUERIES = 16,	/* sent per input: two, more with retries */
	FIRST_FAKE_FD = 10000,	/* never a real descriptor: nothing is opened */
	MAX_DATAGRAM = 65535,
};

/* What c-ares made of an input, as coverage: libFuzzer reads the
 * counters in this section as more edges (and clears them per input). */
enum {
	SEEN_STATUS = 0,		/* + ares status, 32 */
	SEEN_NODES = 32,		/* + addresses in the answer, up to 15 */
	SEEN_CNAMES = 48,		/* + CNAMEs, up to 7 */
	SEEN_TTL = 56,			/* + kind of the lowest TTL, 4 */
	SEEN_QUERIES = 60,		/* + queries sent, up to 15 */
	SEEN_PARSE_A = 76,		/* + ares_parse_a_reply's status, 32 */
	SEEN_PARSE_AAAA = 108,		/* + ares_parse_aaaa_reply's status, 32 */
	SEEN_TTLS_A = 140,		/* + TTLs it filled, up to NAMES_MAX_ADDRS */
	SEEN_TTLS_AAAA = 149,
	SEEN_ALL = 158,
};
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t seen[SEEN_ALL];

static void saw(unsigned base, unsigned value, unsigned most)
{
	seen[base + (value < most ? value : most)]++;
}

static const char HOST[] = "peer.example";
static const char SERVER[] = "192.0.2.53";

/* One input's run: the blocks left, the queries c-ares sent. */
struct exchange {
	const uint8_t *data;
	size_t left;
	ares_socket_t next_fd;
	struct {
		ares_socket_t fd;
		uint8_t id[2];
	} sent[MAX_QUERIES];
	unsigned n_sent, n_answered;
	/* The datagram the next read of `to` gets (then EAGAIN). */
	ares_socket_t to;
	uint8_t datagram[MAX_DATAGRAM];
	size_t datagram_len;
	bool has_datagram;
	unsigned callbacks;
};

static ares_socket_t fake_socket(int family, int type, int protocol, void *arg)
{
	struct exchange *x = arg;
	(void)family;
	(void)protocol;
	/* A truncated answer sends c-ares to TCP: refused, as an
	 * unreachable server would; the query fails or goes again by UDP. */
	if (type != SOCK_DGRAM) {
		errno = ECONNREFUSED;
		return ARES_SOCKET_BAD;
	}
	return x->next_fd++;
}

static int fake_close(ares_socket_t fd, void *arg)
{
	(void)fd;
	(void)arg;
	return 0;
}

static int fake_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *arg)
{
	(void)fd;
	(void)sa;
	(void)len;
	(void)arg;
	return 0;
}

static ares_ssize_t fake_send(ares_socket_t fd, const struct iovec *iov, int n, void *arg)
{
	struct exchange *x = arg;
	uint8_t head[2];
	size_t got = 0, total = 0;
	for (int i = 0; i < n; i++) {
		for (size_t k = 0; k < iov[i].iov_len && got < 2; k++)
			head[got++] = ((const uint8_t *)iov[i].iov_base)[k];
		total += iov[i].iov_len;
	}
	if (got == 2 && x->n_sent < MAX_QUERIES) {
		x->sent[x->n_sent].fd = fd;
		memcpy(x->sent[x->n_sent].id, head, 2);
		x->n_sent++;
	}
	return (ares_ssize_t)total;
}

static ares_ssize_t fake_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *from,
				  ares_socklen_t *from_len, void *arg)
{
	struct exchange *x = arg;
	(void)flags;
	if (!x->has_datagram || fd != x->to) {
		errno = EAGAIN;
		return -1;
	}
	x->has_datagram = false;
	/* From the server asked: c-ares drops anything else. */
	struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, SERVER, &server.sin_addr);
	if (from && from_len) {
		size_t n = *from_len < sizeof(server) ? *from_len : sizeof(server);
		memcpy(from, &server, n);
		*from_len = sizeof(server);
	}
	size_t n = x->datagram_len < len ? x->datagram_len : len;
	memcpy(buf, x->datagram, n);
	return (ares_ssize_t)n;
}

static const struct ares_socket_functions fake_sockets = {
	.asocket = fake_socket,
	.aclose = fake_close,
	.aconnect = fake_connect,
	.arecvfrom = fake_recvfrom,
	.asendv = fake_send,
};

/* The next block of the input, or false when none is left. */
static bool next_block(struct exchange *x, const uint8_t **block, size_t *len)
{
	if (x->left < 2)
		return false;
	size_t n = (size_t)x->data[0] << 8 | x->data[1];
	x->data += 2;
	x->left -= 2;
	if (n > x->left)
		n = x->left;
	*block = x->data;
	*len = n;
	x->data += n;
	x->left -= n;
	return true;
}

static bool in_answer(const struct ares_addrinfo *res, const struct endpoint *ep)
{
	for (const struct ares_addrinfo_node *node = res->nodes; node; node = node->ai_next) {
		struct endpoint cand;
		if (node->ai_family == AF_INET && node->ai_addr)
			endpoint_from_bytes(&cand, AF_INET,
					    (const uint8_t *)&((const struct sockaddr_in *)node->ai_addr)->sin_addr,
					    PEER_PORT);
		else if (node->ai_family == AF_INET6 && node->ai_addr)
			endpoint_from_bytes(&cand, AF_INET6,
					    ((const struct sockaddr_in6 *)node->ai_addr)->sin6_addr.s6_addr, PEER_PORT);
		else
			continue;
		if (endpoint_same_remote(&cand, ep))
			return true;
	}
	return false;
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct exchange *x = arg;
	(void)status;
	(void)timeouts;
	x->callbacks++;
	struct names_answer got;
	names_answer_take(res, PEER_PORT, &got);
	saw(SEEN_STATUS, (unsigned)status, 31);
	saw(SEEN_NODES, got.seen, 15);
	unsigned cnames = 0;
	for (const struct ares_addrinfo_cname *c = res ? res->cnames : NULL; c && cnames < 7; c = c->next)
		cnames++;
	saw(SEEN_CNAMES, cnames, 7);
	saw(SEEN_TTL, got.ttl < 0 ? 0 : got.ttl == 0 ? 1 : got.ttl < 3600 ? 2 : 3, 3);
	saw(SEEN_QUERIES, x->n_sent, 15);
	if (got.n > NAMES_MAX_ADDRS || got.n > got.seen)
		abort();
	if (got.ttl_ns < NAMES_TTL_MIN || got.ttl_ns > NAMES_TTL_MAX)
		abort();
	/* A TTL with its top bit set is 0 (RFC 2181, 8), not "none". */
	if (got.seen && got.ttl < 0)
		abort();
	for (unsigned i = 0; i < got.n; i++) {
		if (endpoint_port(&got.addrs[i]) != PEER_PORT || !in_answer(res, &got.addrs[i]))
			abort();
		for (unsigned k = 0; k < i; k++)
			if (endpoint_same_remote(&got.addrs[i], &got.addrs[k]))
				abort();
	}
	ares_freeaddrinfo(res);
}

/* The older parsers, which hand back TTLs in caller-sized arrays. */
static void parse_alone(const uint8_t *block, size_t len)
{
	struct ares_addrttl a[NAMES_MAX_ADDRS + 1];
	struct ares_addr6ttl a6[NAMES_MAX_ADDRS + 1];
	int n = NAMES_MAX_ADDRS;
	struct hostent *host = NULL;
	memset(a, 0x5a, sizeof(a));
	memset(a6, 0x5a, sizeof(a6));
	int status = ares_parse_a_reply(block, (int)len, &host, a, &n);
	saw(SEEN_PARSE_A, (unsigned)status, 31);
	if (status == ARES_SUCCESS) {
		if (n < 0 || n > NAMES_MAX_ADDRS)
			abort();
		saw(SEEN_TTLS_A, (unsigned)n, NAMES_MAX_ADDRS);
		ares_free_hostent(host);
	}
	/* The slot past the ones offered is never written. */
	if (a[NAMES_MAX_ADDRS].ttl != 0x5a5a5a5a)
		abort();
	n = NAMES_MAX_ADDRS;
	host = NULL;
	status = ares_parse_aaaa_reply(block, (int)len, &host, a6, &n);
	saw(SEEN_PARSE_AAAA, (unsigned)status, 31);
	if (status == ARES_SUCCESS) {
		if (n < 0 || n > NAMES_MAX_ADDRS)
			abort();
		saw(SEEN_TTLS_AAAA, (unsigned)n, NAMES_MAX_ADDRS);
		ares_free_hostent(host);
	}
	if (a6[NAMES_MAX_ADDRS].ttl != 0x5a5a5a5a)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
			abort();
		ready = true;
	}
	static struct exchange x;
	memset(&x, 0, sizeof(x));
	x.data = data;
	x.left = size;
	x.next_fd = FIRST_FAKE_FD;

	/* As names.c (timeout, tries), plus what keeps the run in hand:
	 * one server, no hosts file, no search domains. */
	char lookups[] = "b";
	struct ares_options opts = {
		.timeout = 2000,
		.tries = 2,
		.ndots = 1,
		.domains = NULL,
		.ndomains = 0,
		.lookups = lookups,
	};
	ares_channel channel;
	if (ares_init_options(&channel, &opts,
			      ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS | ARES_OPT_DOMAINS |
				      ARES_OPT_LOOKUPS) != ARES_SUCCESS)
		abort();
	if (ares_set_servers_csv(channel, SERVER) != ARES_SUCCESS)
		abort();
	ares_set_socket_functions(channel, &fake_sockets, &x);

	char port[8];
	snprintf(port, sizeof(port), "%u", PEER_PORT);
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
	ares_getaddrinfo(channel, HOST, port, &hints, on_answer, &x);

	/* Each query sent, answered with the next block, in order; an
	 * answer may make c-ares ask again (another server try), bounded
	 * by MAX_QUERIES and by the blocks. */
	const uint8_t *block;
	size_t len;
	while (!x.callbacks && x.n_answered < x.n_sent && next_block(&x, &block, &len)) {
		parse_alone(block, len);
		unsigned q = x.n_answered++;
		if (len > MAX_DATAGRAM)
			len = MAX_DATAGRAM;
		memcpy(x.datagram, block, len);
		if (len >= 2)
			memcpy(x.datagram, x.sent[q].id, 2);
		x.datagram_len = len;
		x.has_datagram = true;
		x.to = x.sent[q].fd;
		ares_process_fd(channel, x.to, ARES_SOCKET_BAD);
		x.has_datagram = false;
	}
	/* Queries left unanswered end as a silent resolver's would. */
	ares_destroy(channel);
	if (x.callbacks != 1)
		abort();
	return 0;
}
