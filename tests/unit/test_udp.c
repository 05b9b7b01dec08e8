/* The UDP sockets' steering (src/roamd/udp.c, attach_steering): on one
 * port, data messages arrive on the data socket and every other datagram
 * on the handshake socket, in both families; a port in use is still
 * refused; a stranger who joins the reuseport group receives nothing; and
 * with steering off one socket takes all. Over loopback, on a random port. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "messages.h"
#include "test.h"
#include "udp.h"

static const struct udp_options steered = {.gso = false, .gro = false, .pmtu = true, .steer = true};

static int sender(int family)
{
	return socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static bool send_to_port(int fd, int family, uint16_t port, const uint8_t *data, size_t len)
{
	struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_loopback};
	in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (family == AF_INET6)
		return sendto(fd, data, len, 0, (struct sockaddr *)&in6, sizeof(in6)) == (ssize_t)len;
	return sendto(fd, data, len, 0, (struct sockaddr *)&in4, sizeof(in4)) == (ssize_t)len;
}

/* The first bytes of every datagram waiting on fd (a message type each, or
 * 'E' for an empty one), read until 200 ms pass without one. */
static size_t drain(int fd, char *types, size_t max)
{
	static struct udp_rx rx;
	static uint8_t store[UDP_BATCH][256];
	uint8_t *bufs[UDP_BATCH];
	for (unsigned i = 0; i < UDP_BATCH; i++)
		bufs[i] = store[i];
	size_t got = 0;
	for (int rounds = 0; rounds < 50 && got < max; rounds++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			break;
		int n = udp_recv_batch(&rx, fd, bufs, sizeof(store[0]), UDP_BATCH);
		for (int i = 0; i < n && got < max; i++) {
			struct endpoint from;
			size_t gso;
			size_t len = rx.msgs[i].msg_len;
			(void)udp_rx_datagram(&rx, (unsigned)i, &from, &gso);
			types[got++] = len ? (char)('0' + store[i][0]) : 'E';
		}
	}
	types[got] = 0;
	return got;
}

/* One of each message type, a data message of one byte, an empty datagram
 * and junk (type 9): data and what is too short to tell go to the data
 * socket, the rest to the handshake socket. */
static void check_family(int family, int data_fd, int hs_fd, uint16_t port)
{
	int s = sender(family);
	CHECK(s >= 0);
	static uint8_t msg[MESSAGE_INITIATION_LEN];
	const struct {
		uint8_t type;
		size_t len;
	} sends[] = {
		{MESSAGE_HANDSHAKE_INITIATION, MESSAGE_INITIATION_LEN},
		{MESSAGE_DATA, 64},
		{MESSAGE_HANDSHAKE_RESPONSE, MESSAGE_RESPONSE_LEN},
		{MESSAGE_HANDSHAKE_COOKIE, MESSAGE_COOKIE_LEN},
		{MESSAGE_DATA, 1},
		{0, 0},
		{9, 40},
	};
	for (size_t i = 0; i < sizeof(sends) / sizeof(sends[0]); i++) {
		memset(msg, 0, sizeof(msg));
		msg[0] = sends[i].type;
		CHECK(send_to_port(s, family, port, msg, sends[i].len));
	}
	char data_types[16], hs_types[16];
	drain(data_fd, data_types, 8);
	drain(hs_fd, hs_types, 8);
	if (!CHECK(strcmp(data_types, "44E") == 0) | !CHECK(strcmp(hs_types, "1239") == 0))
		fprintf(stderr, "  family %d: data socket got \"%s\", handshake socket \"%s\"\n", family, data_types,
			hs_types);
	close(s);
}

static void test_steering_splits_by_message_type(void)
{
	struct udp_pair pair;
	int ret = udp_pair_bind(&pair, 0, 0, &steered);
	if (!CHECK(ret == 0))
		return;
	CHECK(pair.fd4 >= 0 && pair.hs4 >= 0);
	if (pair.fd4 >= 0 && pair.hs4 >= 0)
		check_family(AF_INET, pair.fd4, pair.hs4, pair.port);
	/* A host without IPv6 has neither. */
	CHECK((pair.fd6 >= 0) == (pair.hs6 >= 0));
	if (pair.fd6 >= 0 && pair.hs6 >= 0)
		check_family(AF_INET6, pair.fd6, pair.hs6, pair.port);
	udp_pair_close(&pair);
	CHECK(pair.fd4 == -1 && pair.hs4 == -1 && pair.fd6 == -1 && pair.hs6 == -1);
}

/* A second daemon on the same ListenPort is refused as it always was, and
 * a socket that joins the group by setting SO_REUSEPORT itself receives
 * nothing: the program names only our two. */
static void test_port_in_use_and_strangers(void)
{
	struct udp_pair pair, second;
	if (!CHECK(udp_pair_bind(&pair, 0, 0, &steered) == 0))
		return;
	CHECK(udp_pair_bind(&second, pair.port, 0, &steered) == -EADDRINUSE);
	CHECK(!udp_pair_is_open(&second));

	int one = 1, stranger = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(pair.port)};
	CHECK(setsockopt(stranger, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0);
	bool joined = bind(stranger, (struct sockaddr *)&any, sizeof(any)) == 0;
	int s = sender(AF_INET);
	uint8_t msg[MESSAGE_INITIATION_LEN] = {MESSAGE_HANDSHAKE_INITIATION};
	for (int i = 0; i < 20; i++) {
		msg[0] = i % 2 ? MESSAGE_DATA : MESSAGE_HANDSHAKE_INITIATION;
		CHECK(send_to_port(s, AF_INET, pair.port, msg, i % 2 ? 64 : sizeof(msg)));
	}
	char types[32];
	CHECK(drain(pair.fd4, types, 30) == 10);
	CHECK(drain(pair.hs4, types, 30) == 10);
	if (joined)
		CHECK(drain(stranger, types, 30) == 0);
	close(s);
	close(stranger);
	udp_pair_close(&pair);
}

static void test_no_steering_one_socket_takes_all(void)
{
	struct udp_options plain = steered;
	plain.steer = false;
	struct udp_pair pair;
	if (!CHECK(udp_pair_bind(&pair, 0, 0, &plain) == 0))
		return;
	CHECK(pair.hs4 == -1 && pair.hs6 == -1);
	int s = sender(AF_INET);
	uint8_t msg[MESSAGE_INITIATION_LEN] = {MESSAGE_HANDSHAKE_INITIATION};
	CHECK(send_to_port(s, AF_INET, pair.port, msg, sizeof(msg)));
	msg[0] = MESSAGE_DATA;
	CHECK(send_to_port(s, AF_INET, pair.port, msg, 64));
	char types[8];
	drain(pair.fd4, types, 4);
	CHECK(strcmp(types, "14") == 0);
	close(s);
	udp_pair_close(&pair);
}

/* The kernel files an ICMP error about a datagram we sent with the socket
 * its lookup of the quoted addresses finds, and in a reuseport group that
 * lookup has no datagram for the steering program: it picks a socket by a
 * hash, the handshake socket too. So roamd reads errors on all four
 * (datapath.c, read_udp_errors). Port unreachables over loopback, to 16
 * closed ports: every one is reported on one of the two, and (but with a
 * chance of 2^-16) some on the handshake socket. */
static void test_errors_reach_either_socket(void)
{
	struct udp_pair pair;
	if (!CHECK(udp_pair_bind(&pair, 0, 0, &steered) == 0))
		return;
	int closed[16], n_closed = 0;
	for (int i = 0; i < 16; i++) {
		/* A port bound and closed again: nothing listens there. */
		int s = sender(AF_INET);
		struct sockaddr_in any = {.sin_family = AF_INET};
		any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(any);
		if (s >= 0 && bind(s, (struct sockaddr *)&any, sizeof(any)) == 0 &&
		    getsockname(s, (struct sockaddr *)&any, &len) == 0)
			closed[n_closed++] = ntohs(any.sin_port);
		if (s >= 0)
			close(s);
	}
	uint8_t msg[32] = {MESSAGE_DATA};
	for (int i = 0; i < n_closed; i++) {
		/* A send right after an error may fail with that error
		 * instead (IP_RECVERR's side effect): once more. */
		bool sent = false;
		for (int tries = 0; tries < 3 && !sent; tries++)
			sent = send_to_port(pair.fd4, AF_INET, (uint16_t)closed[i], msg, sizeof(msg));
		CHECK(sent);
	}
	unsigned on_data = 0, on_handshakes = 0;
	struct udp_error e;
	for (int tries = 0; tries < 50 && on_data + on_handshakes < (unsigned)n_closed; tries++) {
		struct pollfd p[2] = {{.fd = pair.fd4, .events = 0}, {.fd = pair.hs4, .events = 0}};
		poll(p, 2, 20);
		while (udp_read_error(pair.fd4, &e) > 0)
			on_data++;
		while (udp_read_error(pair.hs4, &e) > 0)
			on_handshakes++;
	}
	CHECK(n_closed == 16);
	if (!CHECK(on_data + on_handshakes == (unsigned)n_closed) | !CHECK(on_handshakes > 0))
		fprintf(stderr, "  errors: %u on the data socket, %u on the handshake socket, of %d\n", on_data,
			on_handshakes, n_closed);
	udp_pair_close(&pair);
}

/* The table of addresses whose kernel path MTU is unchecked: a mark lasts
 * UDP_UNCHECKED_LIMIT_NS, a second mark of one address refreshes it, the
 * oldest makes room, and an address of the other family never matches. */
static struct endpoint host4(uint8_t last, uint16_t port)
{
	struct endpoint e = {0};
	e.addr.in4.sin_family = AF_INET;
	e.addr.in4.sin_port = htons(port);
	e.addr.in4.sin_addr.s_addr = htonl(0xC6120000u | last); /* 198.18.0.last */
	return e;
}

static void test_unchecked_limits_expire_and_make_room(void)
{
	struct udp_pair pair = UDP_PAIR_CLOSED;
	const uint64_t t0 = 5 * 1000000000ull;
	struct endpoint a = host4(1, 51820), a_other_port = host4(1, 4000), b = host4(2, 51820);
	CHECK(!udp_limit_unchecked(&pair, &a, t0));
	udp_note_unchecked_limit(&pair, &a, t0);
	CHECK(udp_limit_unchecked(&pair, &a, t0));
	CHECK(udp_limit_unchecked(&pair, &a_other_port, t0)); /* the kernel's cache is per address */
	CHECK(!udp_limit_unchecked(&pair, &b, t0));
	CHECK(udp_limit_unchecked(&pair, &a, t0 + UDP_UNCHECKED_LIMIT_NS - 1));
	CHECK(!udp_limit_unchecked(&pair, &a, t0 + UDP_UNCHECKED_LIMIT_NS));
	/* Marked again later: good for another full period. */
	udp_note_unchecked_limit(&pair, &a, t0 + 100);
	CHECK(udp_limit_unchecked(&pair, &a, t0 + 100 + UDP_UNCHECKED_LIMIT_NS - 1));
	/* Eight more addresses: the oldest mark (a's) makes room. */
	for (uint8_t i = 0; i < UDP_UNCHECKED_LIMITS; i++) {
		struct endpoint e = host4((uint8_t)(10 + i), 51820);
		udp_note_unchecked_limit(&pair, &e, t0 + 200 + i);
	}
	CHECK(!udp_limit_unchecked(&pair, &a, t0 + 300));
	struct endpoint newest = host4(10 + UDP_UNCHECKED_LIMITS - 1, 51820);
	CHECK(udp_limit_unchecked(&pair, &newest, t0 + 300));
	/* An IPv6 address whose first bytes spell an IPv4 one does not match. */
	struct endpoint v6 = {0};
	v6.addr.in6.sin6_family = AF_INET6;
	memcpy(&v6.addr.in6.sin6_addr, &newest.addr.in4.sin_addr, 4);
	CHECK(!udp_limit_unchecked(&pair, &v6, t0 + 300));
}

int main(void)
{
	RUN(test_steering_splits_by_message_type);
	RUN(test_port_in_use_and_strangers);
	RUN(test_no_steering_one_socket_takes_all);
	RUN(test_errors_reach_either_socket);
	RUN(test_unchecked_limits_expire_and_make_room);
	return test_finish("test_udp");
}
