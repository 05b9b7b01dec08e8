/* What roamd keeps of a resolver answer (src/roamd/names_answer.c):
 * addresses in order, without repeats, at most NAMES_MAX_ADDRS, and the
 * lowest TTL held within bounds, whatever order the records come in. */
#include <ares.h>
#include <arpa/inet.h>
#include <string.h>

#include "names_answer.h"
#include "test.h"

enum { PORT = 51820, MAX_NODES = 120 };

/* An answer as c-ares hands it over, built by hand. */
struct answer {
	struct ares_addrinfo info;
	struct ares_addrinfo_node nodes[MAX_NODES];
	struct sockaddr_in v4[MAX_NODES];
	struct sockaddr_in6 v6[MAX_NODES];
	unsigned n;
};

static void add(struct answer *a, const char *text, int ttl)
{
	unsigned i = a->n++;
	struct ares_addrinfo_node *node = &a->nodes[i];
	memset(node, 0, sizeof(*node));
	node->ai_ttl = ttl;
	if (inet_pton(AF_INET, text, &a->v4[i].sin_addr) == 1) {
		a->v4[i].sin_family = AF_INET;
		node->ai_family = AF_INET;
		node->ai_addr = (struct sockaddr *)&a->v4[i];
		node->ai_addrlen = sizeof(a->v4[i]);
	} else {
		CHECK(inet_pton(AF_INET6, text, &a->v6[i].sin6_addr) == 1);
		a->v6[i].sin6_family = AF_INET6;
		node->ai_family = AF_INET6;
		node->ai_addr = (struct sockaddr *)&a->v6[i];
		node->ai_addrlen = sizeof(a->v6[i]);
	}
	if (i)
		a->nodes[i - 1].ai_next = node;
	a->info.nodes = &a->nodes[0];
}

static bool kept_is(const struct names_answer *got, unsigned i, const char *text)
{
	struct endpoint ep;
	uint8_t bytes[16];
	if (inet_pton(AF_INET, text, bytes) == 1)
		endpoint_from_bytes(&ep, AF_INET, bytes, PORT);
	else if (inet_pton(AF_INET6, text, bytes) == 1)
		endpoint_from_bytes(&ep, AF_INET6, bytes, PORT);
	else
		return false;
	return i < got->n && endpoint_same_remote(&got->addrs[i], &ep) && endpoint_port(&got->addrs[i]) == PORT;
}

static void test_nothing(void)
{
	struct names_answer got;
	names_answer_take(NULL, PORT, &got);
	CHECK(got.n == 0 && got.seen == 0 && got.ttl == -1 && got.ttl_ns == NAMES_TTL_MIN);
	struct answer a = { 0 };
	names_answer_take(&a.info, PORT, &got);
	CHECK(got.n == 0 && got.seen == 0 && got.ttl_ns == NAMES_TTL_MIN);
}

static void test_order_kept_repeats_dropped(void)
{
	static struct answer a;
	memset(&a, 0, sizeof(a));
	add(&a, "192.0.2.1", 300);
	add(&a, "fd00::1", 200);
	add(&a, "192.0.2.1", 100); /* a repeat: counted, not kept */
	add(&a, "198.51.100.2", 400);
	struct names_answer got;
	names_answer_take(&a.info, PORT, &got);
	CHECK(got.seen == 4 && got.n == 3);
	CHECK(kept_is(&got, 0, "192.0.2.1") && kept_is(&got, 1, "fd00::1") && kept_is(&got, 2, "198.51.100.2"));
	/* The lowest TTL, the repeat's included. */
	CHECK(got.ttl == 100 && got.ttl_ns == 100 * NSEC_PER_SEC);
}

static void test_hundred_addresses_capped(void)
{
	static struct answer a;
	memset(&a, 0, sizeof(a));
	char text[32];
	for (int i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "198.18.%d.%d", i / 50, i % 50 + 1);
		add(&a, text, 600);
	}
	struct names_answer got;
	names_answer_take(&a.info, PORT, &got);
	CHECK(got.seen == 100 && got.n == NAMES_MAX_ADDRS);
	CHECK(kept_is(&got, 0, "198.18.0.1") && kept_is(&got, NAMES_MAX_ADDRS - 1, "198.18.0.8"));
}

static void test_ttl_held_in_bounds(void)
{
	static struct answer a;
	memset(&a, 0, sizeof(a));
	add(&a, "203.0.113.1", 0);
	struct names_answer got;
	names_answer_take(&a.info, PORT, &got);
	CHECK(got.ttl == 0 && got.ttl_ns == NAMES_TTL_MIN);
	memset(&a, 0, sizeof(a));
	add(&a, "203.0.113.1", 0x7fffffff);
	names_answer_take(&a.info, PORT, &got);
	CHECK(got.ttl == 0x7fffffff && got.ttl_ns == NAMES_TTL_MAX);
}

/* A TTL with its top bit set (c-ares: a negative int) counts as 0, as
 * RFC 2181 (8) asks, wherever it stands in the answer. Found by
 * fuzz_dns's seed with TTL 0xffffffff: first in the answer it gave
 * "TTL -1" (taken for "no TTL yet" by the next record), last it won. */
static void test_ttl_top_bit_is_zero_in_any_order(void)
{
	static struct answer a;
	struct names_answer first, last;
	memset(&a, 0, sizeof(a));
	add(&a, "fd00::1", -1);
	add(&a, "192.0.2.1", 300);
	names_answer_take(&a.info, PORT, &first);
	memset(&a, 0, sizeof(a));
	add(&a, "192.0.2.1", 300);
	add(&a, "fd00::1", -1);
	names_answer_take(&a.info, PORT, &last);
	CHECK(first.ttl == 0 && last.ttl == 0);
	CHECK(first.ttl_ns == NAMES_TTL_MIN && last.ttl_ns == NAMES_TTL_MIN);
}

static void test_other_families_skipped(void)
{
	static struct answer a;
	memset(&a, 0, sizeof(a));
	add(&a, "192.0.2.1", 60);
	a.nodes[0].ai_family = AF_UNIX;
	add(&a, "192.0.2.2", 90);
	struct names_answer got;
	names_answer_take(&a.info, PORT, &got);
	CHECK(got.seen == 1 && got.n == 1 && kept_is(&got, 0, "192.0.2.2") && got.ttl == 90);
}

int main(void)
{
	RUN(test_nothing);
	RUN(test_order_kept_repeats_dropped);
	RUN(test_hundred_addresses_capped);
	RUN(test_ttl_held_in_bounds);
	RUN(test_ttl_top_bit_is_zero_in_any_order);
	RUN(test_other_families_skipped);
	return test_finish("names_answer");
}
