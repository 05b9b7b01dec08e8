/* Cryptokey routing table: fixed cases, a randomized comparison with a
 * naive list ("horrible allowedips"), and a 1,000,000-prefix scale case. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "allowedips.h"
#include "test.h"

struct owner {
	struct allowedips_owner list;
	int id;
};

/* ---- helpers for the fixed cases ---------------------------------------- */

static int parse(const char *text, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET6, text, addr) == 1)
		return AF_INET6;
	if (inet_pton(AF_INET, text, addr) == 1)
		return AF_INET;
	fprintf(stderr, "bad address in test: %s\n", text);
	exit(2);
}

static int ins(struct allowedips *t, const char *text, uint8_t cidr, struct owner *o)
{
	uint8_t a[16];
	int family = parse(text, a);

	return allowedips_insert(t, family, a, cidr, o, &o->list);
}

static bool rem(struct allowedips *t, const char *text, uint8_t cidr, struct owner *o)
{
	uint8_t a[16];
	int family = parse(text, a);

	return allowedips_remove(t, family, a, cidr, o, &o->list);
}

static struct owner *look(const struct allowedips *t, const char *text)
{
	uint8_t a[16];
	int family = parse(text, a);

	return allowedips_lookup(t, family, a);
}

/* Collects a walk as "addr/cidr" strings. */
struct walk_out {
	char item[32][64];
	int n, stop_after;
};

static bool collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_out *w = ctx;
	char text[INET6_ADDRSTRLEN];

	if (w->n < 32) {
		inet_ntop(family, addr, text, sizeof(text));
		snprintf(w->item[w->n], sizeof(w->item[0]), "%s/%u", text, cidr);
	}
	w->n++;
	return w->stop_after == 0 || w->n < w->stop_after;
}

static struct walk_out walk(const struct owner *o)
{
	struct walk_out w = { .n = 0 };

	allowedips_walk_owner(&o->list, collect, &w);
	return w;
}

/* ---- fixed cases --------------------------------------------------------- */

struct fixed_insert {
	const char *addr;
	uint8_t cidr;
	int owner;
};

struct fixed_lookup {
	const char *addr;
	int owner; /* -1: no match */
};

static void run_table(const struct fixed_insert *ins_tab, size_t n_ins, const struct fixed_lookup *look_tab,
		      size_t n_look, bool reverse)
{
	struct owner o[8];
	struct allowedips t;

	memset(o, 0, sizeof(o));
	for (int i = 0; i < 8; i++)
		o[i].id = i;
	allowedips_init(&t);
	for (size_t i = 0; i < n_ins; i++) {
		const struct fixed_insert *f = &ins_tab[reverse ? n_ins - 1 - i : i];

		CHECK(ins(&t, f->addr, f->cidr, &o[f->owner]) == 0);
	}
	CHECK(t.count == n_ins);
	for (size_t i = 0; i < n_look; i++) {
		struct owner *want = look_tab[i].owner < 0 ? NULL : &o[look_tab[i].owner];
		struct owner *got = look(&t, look_tab[i].addr);

		if (!CHECK(got == want))
			fprintf(stderr, "  lookup %s: got %d want %d\n", look_tab[i].addr, got ? got->id : -1,
				look_tab[i].owner);
	}
	allowedips_free(&t);
}

static const struct fixed_insert v4_inserts[] = {
	{ "193.168.4.0", 24, 0 },   { "193.168.4.4", 32, 1 },  { "193.168.0.0", 16, 2 },
	{ "192.95.5.64", 27, 3 },   { "192.95.5.65", 32, 2 },  { "20.0.0.0", 8, 4 },
	{ "20.1.0.0", 16, 5 },      { "20.1.1.0", 24, 6 },     { "20.1.1.1", 32, 7 },
	{ "128.0.0.0", 1, 3 },      { "255.255.255.254", 31, 4 }, { "173.16.0.0", 12, 5 },
};

static const struct fixed_lookup v4_lookups[] = {
	{ "193.168.4.20", 0 },  { "193.168.4.0", 0 },    { "193.168.4.255", 0 }, { "193.168.4.4", 1 },
	{ "193.168.4.5", 0 },   { "193.168.200.182", 2 }, { "193.168.3.255", 2 }, { "192.95.5.68", 3 },
	{ "192.95.5.65", 2 },   { "192.95.5.64", 3 },    { "192.95.5.96", 3 },   { "20.2.3.4", 4 },
	{ "20.1.2.3", 5 },      { "20.1.1.2", 6 },       { "20.1.1.1", 7 },      { "20.255.255.255", 4 },
	{ "21.0.0.0", -1 },     { "19.255.255.255", -1 }, { "127.0.0.1", -1 },    { "128.0.0.0", 3 },
	{ "255.255.255.255", 4 }, { "255.255.255.254", 4 }, { "255.255.255.253", 3 }, { "0.0.0.0", -1 },
	{ "173.31.255.255", 5 }, { "173.32.0.0", 3 },    { "173.15.255.255", 3 },
	{ "127.255.255.255", -1 }, { "20.1.0.255", 5 },
};

static const struct fixed_insert v6_inserts[] = {
	{ "2607:5300:60:6b00::", 64, 0 },   { "2607:5300:60:6b00::c05f:543", 128, 1 },
	{ "2607:5300::", 32, 2 },           { "2001:db8::", 32, 3 },
	{ "2001:db8:1::", 48, 4 },          { "2001:db8:1:2::", 64, 5 },
	{ "2001:db8:1:2:8000::", 65, 6 },   { "2001:db8:1:2::", 127, 7 },
	{ "fe80::", 10, 4 },                { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 5 },
	{ "8000::", 1, 6 },                 { "2001:db8:1:3::", 63, 1 },
};

static const struct fixed_lookup v6_lookups[] = {
	{ "2607:5300:60:6b00::c05f:543", 1 }, { "2607:5300:60:6b00::c05f:544", 0 },
	{ "2607:5300:60:6b00:ffff:ffff:ffff:ffff", 0 }, { "2607:5300:60:6b01::", 2 },
	{ "2607:5300:ffff::1", 2 },           { "2607:5301::", -1 },
	{ "2001:db8::1", 3 },                 { "2001:db8:1::1", 4 },
	{ "2001:db8:1:2::5", 5 },             { "2001:db8:1:2::", 7 },
	{ "2001:db8:1:2::1", 7 },             { "2001:db8:1:2::2", 5 },
	{ "2001:db8:1:2:7fff:ffff:ffff:ffff", 5 }, { "2001:db8:1:2:8000::", 6 },
	{ "2001:db8:1:2:ffff::1", 6 },        { "2001:db8:1:3::1", 1 },
	{ "2001:db8:1:2:0:0:0:3", 5 },        { "2001:db8:1:1::1", 4 },
	{ "2001:db8:1:4::", 4 },              { "fe80::1", 4 },
	{ "febf:ffff::", 4 },                 { "fec0::", 6 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 5 }, { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 6 },
	{ "::", -1 },                         { "::1", -1 },
	{ "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", -1 }, { "8000::", 6 },
};

static void test_fixed_v4(void)
{
	size_t ni = sizeof(v4_inserts) / sizeof(v4_inserts[0]), nl = sizeof(v4_lookups) / sizeof(v4_lookups[0]);

	/* Insertion order must not matter. */
	run_table(v4_inserts, ni, v4_lookups, nl, false);
	run_table(v4_inserts, ni, v4_lookups, nl, true);
}

static void test_fixed_v6(void)
{
	size_t ni = sizeof(v6_inserts) / sizeof(v6_inserts[0]), nl = sizeof(v6_lookups) / sizeof(v6_lookups[0]);

	run_table(v6_inserts, ni, v6_lookups, nl, false);
	run_table(v6_inserts, ni, v6_lookups, nl, true);
}

/* /0, /32 and /128 at the edges, and both families side by side. */
static void test_default_and_host_routes(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 }, c = { .id = 2 }, d = { .id = 3 };
	struct allowedips t;

	allowedips_init(&t);
	CHECK(look(&t, "1.2.3.4") == NULL);
	CHECK(look(&t, "::1") == NULL);
	CHECK(ins(&t, "0.0.0.0", 0, &a) == 0);
	CHECK(look(&t, "1.2.3.4") == &a);
	CHECK(look(&t, "0.0.0.0") == &a);
	CHECK(look(&t, "255.255.255.255") == &a);
	CHECK(look(&t, "::1") == NULL); /* families are separate tables */
	CHECK(ins(&t, "::", 0, &b) == 0);
	CHECK(look(&t, "::1") == &b);
	CHECK(look(&t, "ffff::") == &b);
	CHECK(ins(&t, "1.2.3.4", 32, &c) == 0);
	CHECK(look(&t, "1.2.3.4") == &c);
	CHECK(look(&t, "1.2.3.5") == &a);
	CHECK(look(&t, "1.2.3.3") == &a);
	CHECK(ins(&t, "2001:db8::1", 128, &d) == 0);
	CHECK(look(&t, "2001:db8::1") == &d);
	CHECK(look(&t, "2001:db8::") == &b);
	CHECK(look(&t, "2001:db8::2") == &b);
	CHECK(look(&t, "2001:db8::1:0:0:1") == &b);
	/* ::ffff:1.2.3.4 is an IPv6 address, never the IPv4 one. */
	CHECK(look(&t, "::ffff:1.2.3.4") == &b);
	CHECK(t.count == 4);
	CHECK(rem(&t, "0.0.0.0", 0, &a));
	CHECK(look(&t, "1.2.3.5") == NULL);
	CHECK(look(&t, "1.2.3.4") == &c);
	allowedips_free(&t);
}

/* A more specific prefix wins, whoever inserted it and in which order. */
static void test_more_specific_wins(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;

	allowedips_init(&t);
	CHECK(ins(&t, "20.0.0.0", 8, &a) == 0);
	CHECK(ins(&t, "20.0.0.0", 9, &b) == 0);
	CHECK(look(&t, "20.0.0.1") == &b);
	CHECK(look(&t, "20.127.255.255") == &b);
	CHECK(look(&t, "20.128.0.0") == &a);
	CHECK(ins(&t, "2001:db8::", 32, &b) == 0);
	CHECK(ins(&t, "2001:db8::", 96, &a) == 0);
	CHECK(look(&t, "2001:db8::5") == &a);
	CHECK(look(&t, "2001:db8::1:0:5") == &b);
	/* Adding the broader prefix later does not steal the narrower. */
	CHECK(ins(&t, "2001::", 16, &a) == 0);
	CHECK(look(&t, "2001:db8::5") == &a);
	CHECK(look(&t, "2001:db9::") == &a);
	CHECK(look(&t, "2001:db8:ffff::") == &b);
	allowedips_free(&t);
}

/* Word boundaries of the IPv6 key: bits 63 and 64. */
static void test_v6_word_boundary(void)
{
	struct owner o[4] = { { .id = 0 }, { .id = 1 }, { .id = 2 }, { .id = 3 } };
	struct allowedips t;

	allowedips_init(&t);
	CHECK(ins(&t, "2001:db8:0:1::", 63, &o[0]) == 0); /* covers :0:0 and :0:1 */
	CHECK(ins(&t, "2001:db8:0:1::", 64, &o[1]) == 0);
	CHECK(ins(&t, "2001:db8:0:1:8000::", 65, &o[2]) == 0);
	CHECK(ins(&t, "2001:db8:0:1::", 66, &o[3]) == 0);
	CHECK(look(&t, "2001:db8::1") == &o[0]);
	CHECK(look(&t, "2001:db8:0:1:4000::") == &o[1]);
	CHECK(look(&t, "2001:db8:0:1:3fff:ffff:ffff:ffff") == &o[3]);
	CHECK(look(&t, "2001:db8:0:1:8000::") == &o[2]);
	CHECK(look(&t, "2001:db8:0:1:ffff:ffff:ffff:ffff") == &o[2]);
	CHECK(look(&t, "2001:db8:0:2::") == NULL);
	allowedips_free(&t);
}

static void test_host_bits_cleared(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;
	struct walk_out w;

	allowedips_init(&t);
	CHECK(ins(&t, "193.168.77.99", 24, &a) == 0);
	CHECK(ins(&t, "fd00::1234", 64, &a) == 0);
	CHECK(ins(&t, "2001:db8:1:2:ffff:ffff:ffff:ffff", 65, &a) == 0);
	CHECK(ins(&t, "20.9.8.7", 0, &a) == 0);
	CHECK(ins(&t, "255.255.255.255", 31, &a) == 0);
	w = walk(&a);
	CHECK(w.n == 5);
	CHECK(strcmp(w.item[0], "193.168.77.0/24") == 0);
	CHECK(strcmp(w.item[1], "fd00::/64") == 0);
	CHECK(strcmp(w.item[2], "2001:db8:1:2:8000::/65") == 0);
	CHECK(strcmp(w.item[3], "0.0.0.0/0") == 0);
	CHECK(strcmp(w.item[4], "255.255.255.254/31") == 0);
	CHECK(look(&t, "193.168.77.1") == &a);
	/* The same prefix written with other host bits is the same prefix. */
	CHECK(ins(&t, "193.168.77.200", 24, &b) == 0);
	CHECK(t.count == 5);
	CHECK(a.list.count == 4 && b.list.count == 1);
	w = walk(&b);
	CHECK(w.n == 1 && strcmp(w.item[0], "193.168.77.0/24") == 0);
	CHECK(rem(&t, "fd00::ffff", 64, &a));
	CHECK(look(&t, "fd00::1") == NULL);
	allowedips_free(&t);
}

static void test_move_on_duplicate(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;
	struct walk_out w;

	allowedips_init(&t);
	CHECK(ins(&t, "20.99.0.2", 32, &a) == 0);
	CHECK(ins(&t, "20.99.0.3", 32, &a) == 0);
	CHECK(ins(&t, "fd00::2", 128, &a) == 0);
	CHECK(a.list.count == 3);
	/* The last owner set wins and the prefix leaves the first owner's list. */
	CHECK(ins(&t, "20.99.0.2", 32, &b) == 0);
	CHECK(look(&t, "20.99.0.2") == &b);
	CHECK(t.count == 3 && a.list.count == 2 && b.list.count == 1);
	w = walk(&a);
	CHECK(w.n == 2 && strcmp(w.item[0], "20.99.0.3/32") == 0 && strcmp(w.item[1], "fd00::2/128") == 0);
	w = walk(&b);
	CHECK(w.n == 1 && strcmp(w.item[0], "20.99.0.2/32") == 0);
	/* The old owner can no longer remove it. */
	CHECK(!rem(&t, "20.99.0.2", 32, &a));
	CHECK(look(&t, "20.99.0.2") == &b);
	/* Moved back, it becomes the newest entry of a. */
	CHECK(ins(&t, "20.99.0.2", 32, &a) == 0);
	CHECK(b.list.count == 0 && b.list.first == NULL);
	w = walk(&a);
	CHECK(w.n == 3 && strcmp(w.item[2], "20.99.0.2/32") == 0);
	/* Re-inserting by the same owner keeps one entry, moved to the end. */
	CHECK(ins(&t, "20.99.0.3", 32, &a) == 0);
	CHECK(t.count == 3 && a.list.count == 3);
	w = walk(&a);
	CHECK(w.n == 3 && strcmp(w.item[0], "fd00::2/128") == 0 && strcmp(w.item[1], "20.99.0.2/32") == 0 &&
	      strcmp(w.item[2], "20.99.0.3/32") == 0);
	/* A prefix that only existed as an internal branch point (20.99.0.2/31
	 * joins .2 and .3) can be claimed. */
	CHECK(ins(&t, "20.99.0.2", 31, &b) == 0);
	CHECK(look(&t, "20.99.0.2") == &a && look(&t, "20.99.0.3") == &a);
	CHECK(rem(&t, "20.99.0.3", 32, &a));
	CHECK(look(&t, "20.99.0.3") == &b);
	CHECK(rem(&t, "20.99.0.2", 32, &a));
	CHECK(look(&t, "20.99.0.2") == &b);
	CHECK(t.count == 2);
	allowedips_free(&t);
}

static void test_remove_only_by_holder(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;

	allowedips_init(&t);
	CHECK(ins(&t, "20.0.0.0", 8, &a) == 0);
	CHECK(ins(&t, "21.0.0.0", 8, &b) == 0);
	CHECK(ins(&t, "2001:db8::", 32, &a) == 0);
	CHECK(!rem(&t, "20.0.0.0", 8, &b));
	CHECK(!rem(&t, "2001:db8::", 32, &b));
	CHECK(look(&t, "20.1.1.1") == &a);
	/* Not a stored prefix: another length, or the branch point /7 that
	 * joins 20/8 and 21/8 inside the trie. */
	CHECK(!rem(&t, "20.0.0.0", 9, &a));
	CHECK(!rem(&t, "20.0.0.0", 7, &a));
	CHECK(!rem(&t, "2001:db8::", 31, &a));
	CHECK(t.count == 3 && a.list.count == 2 && b.list.count == 1);
	CHECK(rem(&t, "20.0.0.0", 8, &a));
	CHECK(look(&t, "20.1.1.1") == NULL);
	CHECK(look(&t, "21.1.1.1") == &b);
	CHECK(!rem(&t, "20.0.0.0", 8, &a));
	CHECK(t.count == 2 && a.list.count == 1);
	allowedips_free(&t);
}

/* Removal unlinks nodes that no longer join two subtrees: the root pointer
 * returns to the very node it was before the extra prefixes came. */
static void test_compaction(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;
	struct allowedips_node *r4, *r6;

	allowedips_init(&t);
	CHECK(ins(&t, "20.0.0.0", 8, &a) == 0);
	CHECK(ins(&t, "fd00::", 8, &a) == 0);
	r4 = t.root4;
	r6 = t.root6;
	for (int round = 0; round < 1000; round++) {
		char v4[32], v6[32];

		snprintf(v4, sizeof(v4), "%d.%d.0.0", 11 + round % 200, round % 256);
		snprintf(v6, sizeof(v6), "%x::", round);
		CHECK(ins(&t, v4, 16, &b) == 0);
		CHECK(ins(&t, "20.1.0.0", 16, &b) == 0);
		CHECK(ins(&t, "0.0.0.0", 0, &b) == 0);
		CHECK(ins(&t, v6, 16, &b) == 0);
		CHECK(ins(&t, "fd00:1::", 32, &b) == 0);
		if (round % 2) {
			allowedips_remove_by_owner(&t, &b.list);
		} else {
			CHECK(rem(&t, "0.0.0.0", 0, &b));
			CHECK(rem(&t, v6, 16, &b));
			CHECK(rem(&t, "20.1.0.0", 16, &b));
			CHECK(rem(&t, "fd00:1::", 32, &b));
			CHECK(rem(&t, v4, 16, &b));
		}
	}
	CHECK(t.root4 == r4 && t.root6 == r6);
	CHECK(t.count == 2 && b.list.count == 0 && b.list.first == NULL);
	/* A branch point that was claimed and then released stays only while
	 * it joins two subtrees. */
	CHECK(ins(&t, "20.128.0.0", 9, &b) == 0);
	CHECK(ins(&t, "20.0.0.0", 9, &b) == 0);
	CHECK(rem(&t, "20.0.0.0", 8, &a));
	CHECK(look(&t, "20.0.0.1") == &b && look(&t, "20.200.0.1") == &b);
	CHECK(rem(&t, "20.0.0.0", 9, &b) && rem(&t, "20.128.0.0", 9, &b));
	CHECK(t.root4 == NULL);
	CHECK(rem(&t, "fd00::", 8, &a));
	CHECK(t.root6 == NULL && t.count == 0 && a.list.count == 0 && a.list.first == NULL);
	allowedips_free(&t);
}

static void test_remove_by_owner(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 }, c = { .id = 2 };
	struct allowedips t;
	struct walk_out w;

	allowedips_init(&t);
	allowedips_remove_by_owner(&t, &a.list); /* empty: nothing happens */
	CHECK(ins(&t, "20.0.0.0", 8, &b) == 0);
	CHECK(ins(&t, "20.1.0.0", 16, &a) == 0);
	CHECK(ins(&t, "20.1.1.0", 24, &b) == 0);
	CHECK(ins(&t, "20.1.1.1", 32, &a) == 0);
	CHECK(ins(&t, "2001:db8::", 32, &a) == 0);
	CHECK(ins(&t, "2001:db8::", 48, &b) == 0);
	CHECK(ins(&t, "2001:db8::1", 128, &a) == 0);
	CHECK(ins(&t, "193.168.0.0", 16, &c) == 0);
	CHECK(t.count == 8 && a.list.count == 4 && b.list.count == 3);
	allowedips_remove_by_owner(&t, &a.list);
	CHECK(a.list.count == 0 && a.list.first == NULL);
	CHECK(t.count == 4);
	CHECK(look(&t, "20.1.1.1") == &b);
	CHECK(look(&t, "20.1.2.1") == &b);
	CHECK(look(&t, "2001:db8::1") == &b);
	CHECK(look(&t, "2001:db8:1::1") == NULL);
	CHECK(look(&t, "193.168.1.1") == &c);
	w = walk(&b);
	CHECK(w.n == 3);
	w = walk(&a);
	CHECK(w.n == 0);
	allowedips_remove_by_owner(&t, &b.list);
	allowedips_remove_by_owner(&t, &c.list);
	CHECK(t.count == 0 && t.root4 == NULL && t.root6 == NULL);
	/* The owners are reusable. */
	CHECK(ins(&t, "20.0.0.0", 8, &a) == 0);
	CHECK(look(&t, "20.0.0.1") == &a && a.list.count == 1);
	allowedips_free(&t);
}

static void test_walk(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;
	struct walk_out w;

	allowedips_init(&t);
	CHECK(ins(&t, "fd00::", 8, &a) == 0);
	CHECK(ins(&t, "20.0.0.1", 32, &a) == 0);
	CHECK(ins(&t, "20.0.0.0", 8, &b) == 0);
	CHECK(ins(&t, "::", 0, &a) == 0);
	CHECK(ins(&t, "1.0.0.0", 8, &a) == 0);
	CHECK(ins(&t, "2001:db8::1", 128, &a) == 0);
	w = walk(&a);
	CHECK(w.n == 5 && a.list.count == 5);
	CHECK(strcmp(w.item[0], "fd00::/8") == 0);
	CHECK(strcmp(w.item[1], "20.0.0.1/32") == 0);
	CHECK(strcmp(w.item[2], "::/0") == 0);
	CHECK(strcmp(w.item[3], "1.0.0.0/8") == 0);
	CHECK(strcmp(w.item[4], "2001:db8::1/128") == 0);
	/* Early stop. */
	w = (struct walk_out){ .stop_after = 2 };
	allowedips_walk_owner(&a.list, collect, &w);
	CHECK(w.n == 2);
	/* Removing from the middle, the head and the tail keeps the order. */
	CHECK(rem(&t, "::", 0, &a));
	CHECK(rem(&t, "fd00::", 8, &a));
	CHECK(rem(&t, "2001:db8::1", 128, &a));
	w = walk(&a);
	CHECK(w.n == 2 && a.list.count == 2);
	CHECK(strcmp(w.item[0], "20.0.0.1/32") == 0 && strcmp(w.item[1], "1.0.0.0/8") == 0);
	allowedips_free(&t);
}

static void test_invalid(void)
{
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;
	uint8_t addr[16] = { 20, 0, 0, 1 };
	struct allowedips_node *r4, *r6;

	allowedips_init(&t);
	CHECK(ins(&t, "20.0.0.0", 8, &a) == 0);
	CHECK(ins(&t, "2001:db8::", 32, &a) == 0);
	r4 = t.root4;
	r6 = t.root6;
	CHECK(allowedips_insert(&t, AF_INET, addr, 33, &b, &b.list) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_INET, addr, 255, &b, &b.list) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_INET6, addr, 129, &b, &b.list) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_UNIX, addr, 8, &b, &b.list) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_UNSPEC, addr, 0, &b, &b.list) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_INET, addr, 8, NULL, &b.list) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_INET, addr, 8, &b, NULL) == -EINVAL);
	CHECK(allowedips_insert(&t, AF_INET, NULL, 8, &b, &b.list) == -EINVAL);
	CHECK(!allowedips_remove(&t, AF_INET, addr, 33, &a, &a.list));
	CHECK(!allowedips_remove(&t, AF_UNIX, addr, 8, &a, &a.list));
	CHECK(allowedips_lookup(&t, AF_UNIX, addr) == NULL);
	CHECK(t.count == 2 && t.root4 == r4 && t.root6 == r6);
	CHECK(a.list.count == 2 && b.list.count == 0 && b.list.first == NULL);
	CHECK(allowedips_lookup(&t, AF_INET, addr) == &a);
	CHECK(look(&t, "2001:db8::1") == &a);
	allowedips_free(&t);
	CHECK(t.root4 == NULL && t.root6 == NULL && t.count == 0);
}

/* ---- randomized comparison with a naive list ----------------------------- */

struct rng {
	uint64_t s;
};

/* splitmix64: tiny, fixed-seed reproducible. */
static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rnd_below(struct rng *r, unsigned n)
{
	return (unsigned)(rnd(r) % n);
}

static uint64_t mask_top(unsigned n)
{
	return n == 0 ? 0 : n >= 64 ? ~0ull : ~0ull << (64 - n);
}

/* A prefix or address as two big-endian-order words (IPv4 in the top 32
 * bits of w[0]), kept independent of the table's own representation. */
struct key {
	uint64_t w[2];
};

static void key_mask(struct key *k, unsigned cidr)
{
	k->w[0] &= mask_top(cidr);
	k->w[1] &= mask_top(cidr > 64 ? cidr - 64 : 0);
}

static void key_to_bytes(const struct key *k, int family, uint8_t out[16])
{
	memset(out, 0, 16);
	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		out[i] = (uint8_t)(k->w[i / 8] >> (56 - 8 * (i % 8)));
}

static struct key key_from_bytes(const uint8_t *in, int family)
{
	struct key k = { { 0, 0 } };

	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		k.w[i / 8] |= (uint64_t)in[i] << (56 - 8 * (i % 8));
	return k;
}

struct horrible_entry {
	struct key k, m;
	uint8_t cidr;
	int owner;
	uint64_t seq; /* insertion order, for checking walk order */
};

/* One plain array per family; lookup scans it all. */
struct horrible {
	struct horrible_entry *e[2];
	size_t n[2], cap[2];
	uint64_t seq;
};

static int fam_index(int family)
{
	return family == AF_INET6;
}

static void horrible_insert(struct horrible *h, int family, struct key k, uint8_t cidr, int owner)
{
	int f = fam_index(family);

	key_mask(&k, cidr);
	for (size_t i = 0; i < h->n[f]; i++) {
		struct horrible_entry *e = &h->e[f][i];

		if (e->cidr == cidr && e->k.w[0] == k.w[0] && e->k.w[1] == k.w[1]) {
			e->owner = owner;
			e->seq = ++h->seq;
			return;
		}
	}
	if (h->n[f] == h->cap[f]) {
		h->cap[f] = h->cap[f] ? 2 * h->cap[f] : 1024;
		h->e[f] = realloc(h->e[f], h->cap[f] * sizeof(*h->e[f]));
		if (!h->e[f])
			abort();
	}
	h->e[f][h->n[f]++] = (struct horrible_entry){
		.k = k,
		.m = { { mask_top(cidr), mask_top(cidr > 64 ? cidr - 64 : 0) } },
		.cidr = cidr,
		.owner = owner,
		.seq = ++h->seq,
	};
}

static bool horrible_remove(struct horrible *h, int family, struct key k, uint8_t cidr, int owner)
{
	int f = fam_index(family);

	key_mask(&k, cidr);
	for (size_t i = 0; i < h->n[f]; i++) {
		struct horrible_entry *e = &h->e[f][i];

		if (e->cidr == cidr && e->k.w[0] == k.w[0] && e->k.w[1] == k.w[1]) {
			if (e->owner != owner)
				return false;
			*e = h->e[f][--h->n[f]];
			return true;
		}
	}
	return false;
}

static void horrible_remove_owner(struct horrible *h, int owner)
{
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < h->n[f];)
			if (h->e[f][i].owner == owner)
				h->e[f][i] = h->e[f][--h->n[f]];
			else
				i++;
}

static int horrible_lookup(const struct horrible *h, int family, struct key a)
{
	int f = fam_index(family), best = -1, best_cidr = -1;

	for (size_t i = 0; i < h->n[f]; i++) {
		const struct horrible_entry *e = &h->e[f][i];

		if ((a.w[0] & e->m.w[0]) == e->k.w[0] && (a.w[1] & e->m.w[1]) == e->k.w[1] && e->cidr > best_cidr) {
			best = e->owner;
			best_cidr = e->cidr;
		}
	}
	return best;
}

enum { RAND_OWNERS = 300, RAND_PER_FAMILY = 2500 };

struct rand_state {
	struct rng rng;
	struct allowedips t;
	struct horrible h;
	struct owner owners[RAND_OWNERS];
};

static struct key random_key(struct rng *r, int family)
{
	struct key k = { { rnd(r), rnd(r) } };

	if (family == AF_INET) {
		k.w[0] &= mask_top(32);
		k.w[1] = 0;
	}
	return k;
}

/* Host bits beyond cidr replaced by random ones. */
static struct key randomize_below(struct rng *r, int family, struct key k, unsigned cidr)
{
	struct key noise = random_key(r, family);

	key_mask(&k, cidr);
	k.w[0] |= noise.w[0] & ~mask_top(cidr);
	k.w[1] |= noise.w[1] & ~mask_top(cidr > 64 ? cidr - 64 : 0);
	return k;
}

/* Prefixes: some wholly random (random IPv6 in all 16 bytes), most derived
 * from a stored one with a longer, shorter or equal length, so nesting and
 * exact duplicates (moves) are common. */
static void random_prefix(struct rand_state *s, int family, struct key *k, uint8_t *cidr)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	int f = fam_index(family);
	unsigned pick = rnd_below(&s->rng, 10);

	/* Lengths stay at or above bits/8 (/4, /16) so that lookups miss as
	 * well as hit; /0 is added on purpose in test_random_vs_horrible. */
	if (s->h.n[f] == 0 || pick < 4) {
		*k = random_key(&s->rng, family);
		/* Mostly long prefixes, some short ones. */
		*cidr = (uint8_t)(rnd_below(&s->rng, 4) ? bits - rnd_below(&s->rng, bits / 4 + 1)
							: bits / 8 + rnd_below(&s->rng, bits - bits / 8 + 1));
		return;
	}
	const struct horrible_entry *e = &s->h.e[f][rnd_below(&s->rng, (unsigned)s->h.n[f])];

	if (pick < 7 && e->cidr < bits)
		*cidr = (uint8_t)(e->cidr + 1 + rnd_below(&s->rng, bits - e->cidr));
	else if (pick < 9 && e->cidr > bits / 8)
		*cidr = (uint8_t)(bits / 8 + rnd_below(&s->rng, e->cidr - bits / 8));
	else
		*cidr = e->cidr;
	*k = randomize_below(&s->rng, family, e->k, e->cidr);
}

/* Lookup addresses: inside a stored prefix, one bit off a stored prefix
 * (just outside it), or wholly random. */
static struct key random_address(struct rand_state *s, int family)
{
	int f = fam_index(family);
	unsigned pick = rnd_below(&s->rng, 4);
	struct key k;

	if (s->h.n[f] == 0 || pick == 0)
		return random_key(&s->rng, family);
	const struct horrible_entry *e = &s->h.e[f][rnd_below(&s->rng, (unsigned)s->h.n[f])];

	k = randomize_below(&s->rng, family, e->k, e->cidr);
	if (pick == 1 && e->cidr > 0) {
		unsigned bit = rnd_below(&s->rng, e->cidr);

		k.w[bit / 64] ^= 1ull << (63 - bit % 64);
	}
	return k;
}

static int owner_id(const void *p)
{
	return p ? ((const struct owner *)p)->id : -1;
}

struct walk_check {
	const struct horrible *h;
	int owner;
	size_t n, bad;
	uint64_t last_seq;
};

static bool walk_check_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_check *w = ctx;
	struct key k = key_from_bytes(addr, family);
	int f = fam_index(family);
	const struct horrible_entry *found = NULL;

	w->n++;
	for (size_t i = 0; i < w->h->n[f]; i++) {
		const struct horrible_entry *e = &w->h->e[f][i];

		if (e->cidr == cidr && e->k.w[0] == k.w[0] && e->k.w[1] == k.w[1])
			found = e;
	}
	/* Present, with this owner, masked, and in insertion order. */
	if (!found || found->owner != w->owner || found->seq <= w->last_seq)
		w->bad++;
	else
		w->last_seq = found->seq;
	return true;
}

/* With a default route present every lookup hits; otherwise the address
 * mix must produce plenty of both outcomes. */
static void check_against_horrible(struct rand_state *s, unsigned lookups, bool have_default)
{
	size_t mismatches = 0, hits = 0;

	for (unsigned i = 0; i < lookups; i++) {
		int family = i & 1 ? AF_INET6 : AF_INET;
		struct key a = random_address(s, family);
		uint8_t bytes[16];
		int want = horrible_lookup(&s->h, family, a), got;

		key_to_bytes(&a, family, bytes);
		got = owner_id(allowedips_lookup(&s->t, family, bytes));
		hits += want >= 0;
		if (got != want && mismatches++ < 3)
			fprintf(stderr, "  lookup mismatch (family %d): got %d want %d\n", family, got, want);
	}
	CHECK(mismatches == 0);
	if (lookups && !have_default)
		CHECK(hits > lookups / 3 && hits < lookups - lookups / 10);
	CHECK(s->t.count == s->h.n[0] + s->h.n[1]);

	size_t walk_bad = 0, count_bad = 0;
	size_t *per_owner = calloc(RAND_OWNERS, sizeof(*per_owner));

	if (!per_owner)
		abort();
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < s->h.n[f]; i++)
			per_owner[s->h.e[f][i].owner]++;
	for (int o = 0; o < RAND_OWNERS; o++) {
		struct walk_check w = { .h = &s->h, .owner = o };

		allowedips_walk_owner(&s->owners[o].list, walk_check_fn, &w);
		walk_bad += w.bad;
		count_bad += w.n != per_owner[o] || s->owners[o].list.count != per_owner[o];
	}
	free(per_owner);
	CHECK(walk_bad == 0);
	CHECK(count_bad == 0);
}

static bool insert_both(struct rand_state *s, int family, struct key k, uint8_t cidr, int o)
{
	uint8_t bytes[16];

	/* Unmasked host bits on purpose: the table must clear them. */
	key_to_bytes(&k, family, bytes);
	horrible_insert(&s->h, family, k, cidr, o);
	return allowedips_insert(&s->t, family, bytes, cidr, &s->owners[o], &s->owners[o].list) == 0;
}

static bool remove_both(struct rand_state *s, int family, struct key k, uint8_t cidr, int o)
{
	uint8_t bytes[16];

	key_to_bytes(&k, family, bytes);
	return horrible_remove(&s->h, family, k, cidr, o) ==
	       allowedips_remove(&s->t, family, bytes, cidr, &s->owners[o], &s->owners[o].list);
}

static void random_inserts(struct rand_state *s, unsigned n)
{
	size_t bad = 0;

	for (unsigned i = 0; i < n; i++) {
		int family = i & 1 ? AF_INET6 : AF_INET;
		struct key k;
		uint8_t cidr;

		random_prefix(s, family, &k, &cidr);
		bad += !insert_both(s, family, k, cidr, (int)rnd_below(&s->rng, RAND_OWNERS));
	}
	CHECK(bad == 0);
}

static void random_removals(struct rand_state *s, unsigned n)
{
	size_t bad = 0;

	for (unsigned i = 0; i < n; i++) {
		int family = i & 1 ? AF_INET6 : AF_INET, f = fam_index(family);
		struct key k;
		uint8_t cidr;
		int o;

		if (s->h.n[f] == 0)
			continue;
		unsigned pick = rnd_below(&s->rng, 4);

		if (pick < 3) {
			/* A stored prefix, by its owner or (pick 0) by another. */
			const struct horrible_entry *e = &s->h.e[f][rnd_below(&s->rng, (unsigned)s->h.n[f])];

			k = randomize_below(&s->rng, family, e->k, e->cidr);
			cidr = e->cidr;
			o = e->owner;
			if (pick == 0)
				o = (o + 1 + (int)rnd_below(&s->rng, RAND_OWNERS - 1)) % RAND_OWNERS;
		} else {
			/* Anything, usually not stored. */
			random_prefix(s, family, &k, &cidr);
			o = (int)rnd_below(&s->rng, RAND_OWNERS);
		}
		bad += !remove_both(s, family, k, cidr, o);
	}
	CHECK(bad == 0);
}

static void test_random_vs_horrible(void)
{
	static struct rand_state s; /* big; static only to keep it off the stack */
	unsigned lookups = 200000;

	memset(&s, 0, sizeof(s));
	s.rng.s = 0x726f616d616c6c6full; /* fixed seed: failures reproduce */
	for (int i = 0; i < RAND_OWNERS; i++)
		s.owners[i].id = i;
	allowedips_init(&s.t);

	random_inserts(&s, 2 * RAND_PER_FAMILY);
	check_against_horrible(&s, lookups, false);

	/* Churn: more inserts (many of them moves), removals by holder and by
	 * non-holders, each round checked. Rounds 1 and 2 also carry a /0
	 * per family, with random host bits given. */
	struct key zero4 = random_key(&s.rng, AF_INET), zero6 = random_key(&s.rng, AF_INET6);
	int zero_owner = (int)rnd_below(&s.rng, RAND_OWNERS);

	for (int round = 0; round < 4; round++) {
		if (round == 1) {
			CHECK(insert_both(&s, AF_INET, zero4, 0, zero_owner));
			CHECK(insert_both(&s, AF_INET6, zero6, 0, zero_owner));
		}
		if (round == 3) {
			CHECK(remove_both(&s, AF_INET, zero4, 0, zero_owner));
			CHECK(remove_both(&s, AF_INET6, zero6, 0, zero_owner));
		}
		random_removals(&s, 1000);
		check_against_horrible(&s, lookups / 4, round == 1 || round == 2);
		random_inserts(&s, 600);
		check_against_horrible(&s, lookups / 4, round == 1 || round == 2);
	}

	/* Remove whole owners in batches, checking after each. */
	int order[RAND_OWNERS];

	for (int i = 0; i < RAND_OWNERS; i++)
		order[i] = i;
	for (int i = RAND_OWNERS - 1; i > 0; i--) {
		int j = (int)rnd_below(&s.rng, (unsigned)i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (int batch = 0; batch < 5; batch++) {
		for (int i = batch * RAND_OWNERS / 5; i < (batch + 1) * RAND_OWNERS / 5; i++) {
			allowedips_remove_by_owner(&s.t, &s.owners[order[i]].list);
			horrible_remove_owner(&s.h, order[i]);
		}
		check_against_horrible(&s, batch < 4 ? lookups / 2 : 0, false);
	}

	/* Everything gone: nothing matches and no node is left behind. */
	CHECK(s.t.count == 0 && s.t.root4 == NULL && s.t.root6 == NULL);
	size_t found = 0;

	for (unsigned i = 0; i < 10000; i++) {
		int family = i & 1 ? AF_INET6 : AF_INET;
		struct key a = random_key(&s.rng, family);
		uint8_t bytes[16];

		key_to_bytes(&a, family, bytes);
		found += allowedips_lookup(&s.t, family, bytes) != NULL;
	}
	CHECK(found == 0);
	allowedips_free(&s.t);
	free(s.h.e[0]);
	free(s.h.e[1]);
}

/* ---- allocation failure ------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Real allocation failures: the address space is capped a little above its
 * current size and prefixes go in until malloc fails. The failed insert
 * must leave no trace and everything before it must be intact. ASan
 * reserves huge address ranges, so the sanitizer build skips this. */
static void test_enomem(void)
{
#ifdef UNDER_ASAN
	printf("  (skipped under AddressSanitizer)\n");
#else
	struct owner a = { .id = 0 }, b = { .id = 1 };
	struct allowedips t;
	struct rlimit old, low;
	struct rng r = { 7 };
	unsigned long pages = 0;
	FILE *statm = fopen("/proc/self/statm", "r");
	size_t ok = 0, lost = 0;
	int err = 0;
	uint8_t addr[16];

	if (!statm || fscanf(statm, "%lu", &pages) != 1 || getrlimit(RLIMIT_AS, &old) != 0) {
		if (statm)
			fclose(statm);
		printf("  (skipped: no /proc/self/statm or getrlimit)\n");
		return;
	}
	fclose(statm);
	allowedips_init(&t);
	CHECK(ins(&t, "20.0.0.0", 8, &b) == 0);
	CHECK(ins(&t, "2001:db8::", 32, &b) == 0);
	fflush(stdout);
	low = old;
	low.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16u << 20);
	if (!CHECK(setrlimit(RLIMIT_AS, &low) == 0))
		return;
	/* Random /128s (one or two allocations each) until malloc fails. */
	for (size_t i = 0; i < 4000000 && !err; i++) {
		uint64_t x = rnd(&r), y = rnd(&r);

		for (int j = 0; j < 8; j++) {
			addr[j] = (uint8_t)(x >> (8 * j));
			addr[8 + j] = (uint8_t)(y >> (8 * j));
		}
		err = allowedips_insert(&t, AF_INET6, addr, 128, &a, &a.list);
		ok += err == 0;
	}
	setrlimit(RLIMIT_AS, &old);
	CHECK(err == -ENOMEM);
	CHECK(allowedips_lookup(&t, AF_INET6, addr) == NULL); /* the failed one */
	CHECK(t.count == ok + 2 && a.list.count == ok && b.list.count == 2);
	/* Every earlier prefix still resolves to a. */
	r.s = 7;
	for (size_t i = 0; i < ok; i++) {
		uint64_t x = rnd(&r), y = rnd(&r);

		for (int j = 0; j < 8; j++) {
			addr[j] = (uint8_t)(x >> (8 * j));
			addr[8 + j] = (uint8_t)(y >> (8 * j));
		}
		lost += allowedips_lookup(&t, AF_INET6, addr) != &a;
	}
	CHECK(lost == 0);
	CHECK(look(&t, "20.1.2.3") == &b && look(&t, "2001:db8::1") == &b);
	allowedips_remove_by_owner(&t, &a.list);
	CHECK(t.count == 2 && a.list.count == 0);
	allowedips_free(&t);
#endif
}

/* ---- scale: 100,000 owners, 1,000,000 prefixes --------------------------- */

/* Ten prefix kinds per owner index i, each kind a bijection onto owners, so
 * every owner holds exactly ten prefixes. Kinds nest (a /32 inside a /28, a
 * /30 inside a /26, a /96 inside a /64, a /56 inside a /48) and the
 * expected owner of every stored network address and every prefix's last
 * address is known without a reference implementation. */
enum { KINDS = 10 };

static uint32_t mix32(uint32_t i)
{
	uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull;

	z ^= z >> 29;
	return (uint32_t)(z * 0xbf58476d1ce4e5b9ull >> 32);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Builds prefix `kind` of index i; returns its family. */
static int scale_prefix(uint32_t i, int kind, uint8_t addr[16], uint8_t *cidr)
{
	memset(addr, 0, 16);
	switch (kind) {
	case 0: put32(addr, 0x0a000000u + i * 16 + 1); *cidr = 32; return AF_INET;
	case 1: put32(addr, 0x0a000000u + i * 16); *cidr = 28; return AF_INET;
	case 2: put32(addr, 0x0b000000u + i * 64); *cidr = 26; return AF_INET;
	case 3: put32(addr, 0x0b000000u + i * 64 + 32); *cidr = 30; return AF_INET;
	case 4: put32(addr, 0x40000000u + i * 4096); *cidr = 20; return AF_INET;
	case 5: /* a /128 with every byte in play */
		put32(addr, 0xfd000000u | (mix32(i) >> 16)); /* fd00:, apart from kinds 6-9 */
		put32(addr + 4, mix32(i + 0x55555555u));
		put32(addr + 8, mix32(~i));
		put32(addr + 12, i);
		*cidr = 128;
		return AF_INET6;
	case 6: put32(addr, 0xfd010000u); put32(addr + 4, i); *cidr = 64; return AF_INET6;
	case 7: /* inside kind 6; never at its first or last address */
		put32(addr, 0xfd010000u); put32(addr + 4, i); put32(addr + 8, (mix32(i) >> 1) | 1);
		*cidr = 96;
		return AF_INET6;
	case 8: put32(addr, 0xfd020000u | (i >> 16)); put32(addr + 4, (i & 0xffff) << 16); *cidr = 48;
		return AF_INET6;
	default: /* inside kind 8 */
		put32(addr, 0xfd020000u | (i >> 16)); put32(addr + 4, (i & 0xffff) << 16 | 0x0100);
		*cidr = 56;
		return AF_INET6;
	}
}

static void last_address(int family, uint8_t addr[16], uint8_t cidr)
{
	unsigned bits = family == AF_INET ? 32 : 128;

	for (unsigned b = cidr; b < bits; b++)
		addr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

static void test_scale(void)
{
	const char *quick = getenv("ROAM_TEST_QUICK");
	uint32_t n = quick && strcmp(quick, "1") == 0 ? 10000 : 100000;
	struct owner *owners = calloc(n, sizeof(*owners));
	struct allowedips t;
	size_t bad_insert = 0, bad_lookup = 0, bad_count = 0;
	uint8_t addr[16], cidr;

	if (!CHECK(owners != NULL))
		return;
	allowedips_init(&t);
	for (uint32_t i = 0; i < n; i++)
		owners[i].id = (int)i;
	for (uint32_t i = 0; i < n; i++) {
		for (int kind = 0; kind < KINDS; kind++) {
			struct owner *o = &owners[(i + (uint32_t)kind) % n];
			int family = scale_prefix(i, kind, addr, &cidr);

			bad_insert += allowedips_insert(&t, family, addr, cidr, o, &o->list) != 0;
		}
	}
	CHECK(bad_insert == 0);
	CHECK(t.count == (size_t)n * KINDS);
	for (uint32_t i = 0; i < n; i++)
		bad_count += owners[i].list.count != KINDS;
	CHECK(bad_count == 0);

	for (uint32_t i = 0; i < n; i++) {
		for (int kind = 0; kind < KINDS; kind++) {
			struct owner *want = &owners[(i + (uint32_t)kind) % n];
			int family = scale_prefix(i, kind, addr, &cidr);

			bad_lookup += allowedips_lookup(&t, family, addr) != want;
			last_address(family, addr, cidr);
			bad_lookup += allowedips_lookup(&t, family, addr) != want;
		}
	}
	if (!CHECK(bad_lookup == 0))
		fprintf(stderr, "  %zu wrong lookups\n", bad_lookup);
	CHECK(look(&t, "12.0.0.1") == NULL);
	CHECK(look(&t, "fd03::1") == NULL);

	for (uint32_t i = 0; i < n; i++)
		allowedips_remove_by_owner(&t, &owners[i].list);
	CHECK(t.count == 0 && t.root4 == NULL && t.root6 == NULL);
	allowedips_free(&t);
	free(owners);
}

int main(void)
{
	RUN(test_fixed_v4);
	RUN(test_fixed_v6);
	RUN(test_default_and_host_routes);
	RUN(test_more_specific_wins);
	RUN(test_v6_word_boundary);
	RUN(test_host_bits_cleared);
	RUN(test_move_on_duplicate);
	RUN(test_remove_only_by_holder);
	RUN(test_compaction);
	RUN(test_remove_by_owner);
	RUN(test_walk);
	RUN(test_invalid);
	RUN(test_enomem);
	RUN(test_random_vs_horrible);
	RUN(test_scale);
	return test_finish("test_allowedips");
}
