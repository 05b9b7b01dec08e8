/* The simulated network (see sim.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "checksum.h"
#include "sim.h"

struct sim_packet {
	uint64_t at, seq;
	int to;
	int from;
	struct endpoint src;
	size_t len;
	uint8_t data[MESSAGE_DATA_HEADROOM + 65535 + MESSAGE_DATA_TAILROOM];
};

uint64_t sim_rand(uint64_t *state)
{
	/* splitmix64: tiny, fast, deterministic; fine for a test network. */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void node_random(void *ctx, void *buf, size_t len)
{
	struct sim_node *node = ctx;
	uint8_t *p = buf;
	while (len) {
		uint64_t r = sim_rand(&node->rng);
		size_t n = len < 8 ? len : 8;
		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static uint64_t node_wall(void *ctx)
{
	struct sim_node *node = ctx;
	return node->sim->wall_base_ns + node->sim->now;
}

static bool packet_before(const struct sim_packet *a, const struct sim_packet *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void queue_push(struct sim *sim, struct sim_packet *p)
{
	if (sim->queue_len == sim->queue_cap) {
		sim->queue_cap = sim->queue_cap ? sim->queue_cap * 2 : 256;
		sim->queue = realloc(sim->queue, sim->queue_cap * sizeof(*sim->queue));
		if (!sim->queue)
			abort();
	}
	size_t i = sim->queue_len++;
	while (i > 0 && packet_before(p, sim->queue[(i - 1) / 2])) {
		sim->queue[i] = sim->queue[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	sim->queue[i] = p;
}

static struct sim_packet *queue_pop(struct sim *sim)
{
	struct sim_packet *top = sim->queue[0], *last = sim->queue[--sim->queue_len];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= sim->queue_len)
			break;
		if (c + 1 < sim->queue_len && packet_before(sim->queue[c + 1], sim->queue[c]))
			c++;
		if (!packet_before(sim->queue[c], last))
			break;
		sim->queue[i] = sim->queue[c];
		i = c;
	}
	if (sim->queue_len)
		sim->queue[i] = last;
	return top;
}

static struct sim_node *node_at(struct sim *sim, const struct endpoint *ep)
{
	for (int i = 0; i < sim->node_count; i++)
		if (endpoint_same_remote(&sim->nodes[i].addr, ep) ||
		    (endpoint_is_set(&sim->nodes[i].alias) && endpoint_same_remote(&sim->nodes[i].alias, ep)))
			return &sim->nodes[i];
	return NULL;
}

static bool black_holed(const struct sim *sim, const struct endpoint *ep)
{
	for (int i = 0; i < sim->black_hole_count; i++)
		if (endpoint_same_remote(&sim->black_holes[i], ep))
			return true;
	return false;
}

/* The address a node sends from towards `to`: its alias when the engine
 * asked for that source (it answers where it was written to), else its
 * address. */
static const struct endpoint *source_for(const struct sim_node *from, const struct endpoint *to)
{
	const struct endpoint *a = &from->alias;
	if (!endpoint_is_set(a) || to->src_family != a->addr.sa.sa_family)
		return &from->addr;
	if (to->src_family == AF_INET && to->src.v4.s_addr == a->addr.in4.sin_addr.s_addr)
		return a;
	if (to->src_family == AF_INET6 && !memcmp(&to->src.v6, &a->addr.in6.sin6_addr, 16))
		return a;
	return &from->addr;
}

static void count_kind(struct sim_node *node, const uint8_t *data, size_t len)
{
	switch (message_type_of(data, len)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		node->sent_initiations++;
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		node->sent_responses++;
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		node->sent_cookies++;
		break;
	case MESSAGE_DATA:
		if (len == MESSAGE_DATA_MIN_LEN)
			node->sent_keepalives++;
		else
			node->sent_data++;
		break;
	default:
		break;
	}
}

static void enqueue(struct sim *sim, struct sim_node *from, struct sim_node *to, const struct endpoint *src,
		    const struct endpoint *dst, const uint8_t *data, size_t len, uint64_t extra_delay)
{
	struct sim_packet *p = malloc(sizeof(*p));
	if (!p)
		abort();
	p->seq = sim->queue_seq++;
	p->at = sim->now + sim->delay_ns + extra_delay;
	if (sim->jitter_ns)
		p->at += sim_rand(&sim->rng) % sim->jitter_ns;
	p->to = to->id;
	p->from = from->id;
	p->src = *src;
	if (endpoint_is_set(&to->alias) && endpoint_same_remote(&to->alias, dst)) {
		/* Arrived at the alias: the receiver learns it as the local
		 * address, as a socket's IP_PKTINFO would tell. */
		p->src.src_family = dst->addr.sa.sa_family;
		if (dst->addr.sa.sa_family == AF_INET)
			p->src.src.v4 = dst->addr.in4.sin_addr;
		else
			p->src.src.v6 = dst->addr.in6.sin6_addr;
	}
	p->len = len;
	memcpy(p->data + MESSAGE_DATA_HEADROOM, data, len);
	queue_push(sim, p);
}

static void node_send(void *ctx, struct peer *peer, const struct endpoint *to_ep, uint8_t *data, size_t len)
{
	struct sim_node *from = ctx;
	struct sim *sim = from->sim;
	(void)peer;
	count_kind(from, data, len);
	sim->datagrams++;
	sim->bytes += len;
	struct sim_node *to = node_at(sim, to_ep);
	if (!to)
		return; /* an address nobody holds any more */
	const struct endpoint *src = source_for(from, to_ep);
	if (black_holed(sim, to_ep) || black_holed(sim, src))
		return;
	for (int i = 0; i < sim->unreachable_count; i++)
		if (endpoint_same_remote(&sim->unreachable[i], to_ep))
			return;
	if (sim->filter && !sim->filter(sim->filter_ctx, from, to, data, &len))
		return;
	if (sim->loss_permille && sim_rand(&sim->rng) % 1000 < sim->loss_permille)
		return;
	enqueue(sim, from, to, src, to_ep, data, len, 0);
	if (sim->duplicate_permille && sim_rand(&sim->rng) % 1000 < sim->duplicate_permille)
		enqueue(sim, from, to, src, to_ep, data, len, sim->delay_ns);
}

/* An echo request turned into its reply in place: addresses swapped, type
 * changed, checksums made again. false if it is not an echo request. */
static bool echo_to_reply(uint8_t *p, size_t len)
{
	uint8_t tmp[16];
	if (len >= 28 && p[0] == 0x45 && p[9] == 1 && p[20] == 8) {
		memcpy(tmp, p + 12, 4);
		memcpy(p + 12, p + 16, 4);
		memcpy(p + 16, tmp, 4);
		p[8] = 64;
		p[10] = p[11] = 0;
		csum_store(p + 10, csum_add(0, p, 20));
		p[20] = 0;
		p[22] = p[23] = 0;
		csum_store(p + 22, csum_add(0, p + 20, len - 20));
		return true;
	}
	if (len >= 48 && p[0] >> 4 == 6 && p[6] == 58 && p[40] == 128) {
		memcpy(tmp, p + 8, 16);
		memcpy(p + 8, p + 24, 16);
		memcpy(p + 24, tmp, 16);
		p[7] = 64;
		p[40] = 129;
		p[42] = p[43] = 0;
		uint64_t sum = csum_pseudo(p + 8, p + 24, 16, 58, (uint32_t)(len - 40));
		csum_store(p + 42, csum_add(sum, p + 40, len - 40));
		return true;
	}
	return false;
}

enum send_result sim_send_packet(struct sim_node *a, const uint8_t *pkt, size_t len)
{
	static uint8_t buf[MESSAGE_DATA_HEADROOM + 65535 + MESSAGE_DATA_TAILROOM];
	enum drop_reason drop;
	struct peer *peer;
	memcpy(buf + MESSAGE_DATA_HEADROOM, pkt, len);
	return device_send_packet(a->dev, buf + MESSAGE_DATA_HEADROOM, len, a->sim->now, &drop, &peer);
}

static void node_deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	struct sim_node *node = ctx;
	(void)peer;
	if (node->answer_pings && node->answer_limited && len >= 28 && data[0] == 0x45 && data[20] == 8) {
		/* As a router the probe would pass answers it: "time exceeded",
		 * which Linux limits to a burst of 6, then 1 a second. */
		uint64_t now = node->sim->now, cap = 6 * NSEC_PER_SEC;
		node->answer_credit_ns += node->answer_credit_at ? now - node->answer_credit_at : cap;
		if (node->answer_credit_ns > cap)
			node->answer_credit_ns = cap;
		node->answer_credit_at = now;
		if (node->answer_credit_ns < NSEC_PER_SEC) {
			node->pings_swallowed++;
			return;
		}
		node->answer_credit_ns -= NSEC_PER_SEC;
		uint8_t err[20 + 8 + 28];
		memset(err, 0, sizeof(err));
		err[0] = 0x45;
		err[3] = sizeof(err);
		err[8] = 64;
		err[9] = 1;
		memcpy(err + 12, node->inner_addr, 4);
		memcpy(err + 16, data + 12, 4);
		csum_store(err + 10, csum_add(0, err, 20));
		err[20] = 11;	/* time exceeded in transit */
		memcpy(err + 28, data, 28);
		csum_store(err + 22, csum_add(0, err + 20, sizeof(err) - 20));
		node->pings_answered++;
		sim_send_packet(node, err, sizeof(err));
		return;
	}
	if (node->answer_pings && echo_to_reply(data, len)) {
		node->pings_answered++;
		sim_send_packet(node, data, len);
		return;
	}
	if (len < 28)
		return;
	uint32_t seq = (uint32_t)data[24] << 24 | (uint32_t)data[25] << 16 | (uint32_t)data[26] << 8 | data[27];
	node->delivered++;
	if (seq / 8 >= node->seen_size) {
		size_t size = (seq / 8 + 1) * 2;
		node->seen = realloc(node->seen, size);
		if (!node->seen)
			abort();
		memset(node->seen + node->seen_size, 0, size - node->seen_size);
		node->seen_size = size;
	}
	if (node->seen[seq / 8] & (1u << (seq % 8)))
		node->duplicates++;
	node->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
}

static void node_event(void *ctx, const struct device_event *ev)
{
	struct sim_node *node = ctx;
	struct device_event_record *r = &node->events[node->event_count++ % SIM_MAX_EVENTS];
	r->type = ev->type;
	r->at = ev->now;
	r->candidate = ev->candidate;
	r->candidate_why = (int)ev->candidate_why;
	memset(&r->old_ep, 0, sizeof(r->old_ep));
	memset(&r->new_ep, 0, sizeof(r->new_ep));
	if (ev->old_endpoint)
		r->old_ep = *ev->old_endpoint;
	if (ev->new_endpoint)
		r->new_ep = *ev->new_endpoint;
}

void sim_init(struct sim *sim, uint64_t seed)
{
	memset(sim, 0, sizeof(*sim));
	sim->rng = seed;
	sim->now = 1000 * NSEC_PER_SEC; /* not 0: a zero clock hides "never" bugs */
	sim->wall_base_ns = 1700000000ULL * NSEC_PER_SEC;
	sim->delay_ns = 10 * NSEC_PER_MSEC;
}

void sim_free(struct sim *sim)
{
	for (int i = 0; i < sim->node_count; i++) {
		device_free(sim->nodes[i].dev);
		free(sim->nodes[i].seen);
	}
	while (sim->queue_len)
		free(queue_pop(sim));
	free(sim->queue);
}

struct sim_node *sim_add_node(struct sim *sim)
{
	if (sim->node_count == SIM_MAX_NODES)
		abort();
	struct sim_node *node = &sim->nodes[sim->node_count];
	memset(node, 0, sizeof(*node));
	node->sim = sim;
	node->id = sim->node_count++;
	node->rng = sim_rand(&sim->rng);
	struct device_io io = {
		.ctx = node,
		.send = node_send,
		.deliver = node_deliver,
		.event = node_event,
		.random = node_random,
		.wall_ns = node_wall,
	};
	node->dev = device_new(&io);
	if (!node->dev)
		abort();
	uint8_t random[32];
	node_random(node, random, sizeof(random));
	x25519_private_from_random(node->private_key, random);
	x25519_public_from_private(node->public_key, node->private_key);
	device_set_private_key(node->dev, node->private_key, sim->now);
	uint8_t outer[4] = {198, 18, 0, (uint8_t)(node->id + 1)};
	endpoint_from_bytes(&node->addr, AF_INET, outer, 51820);
	uint8_t inner[4] = {198, 19, 0, (uint8_t)(node->id + 1)};
	memcpy(node->inner_addr, inner, 4);
	device_up(node->dev, sim->now);
	return node;
}

struct peer *sim_peer_of(struct sim_node *node, struct sim_node *other)
{
	return device_peer_lookup(node->dev, other->public_key);
}

static struct peer *add_peer(struct sim_node *node, struct sim_node *other)
{
	int err;
	struct peer *peer = device_peer_create(node->dev, other->public_key, node->sim->now, &err);
	if (!peer)
		abort();
	if (peer_allowedips_insert(peer, AF_INET, other->inner_addr, 32))
		abort();
	return peer;
}

void sim_connect(struct sim_node *a, struct sim_node *b, bool both_ways)
{
	struct peer *pb = add_peer(a, b);
	struct peer *pa = add_peer(b, a);
	peer_set_endpoint(pb, &b->addr);
	if (both_ways)
		peer_set_endpoint(pa, &a->addr);
}

void sim_move_node(struct sim_node *node, const struct endpoint *to)
{
	node->addr = *to;
}

enum send_result sim_send(struct sim_node *a, struct sim_node *b, uint32_t seq, size_t payload_len)
{
	static uint8_t buf[MESSAGE_DATA_HEADROOM + 65535 + MESSAGE_DATA_TAILROOM];
	uint8_t *pkt = buf + MESSAGE_DATA_HEADROOM;
	size_t len = 28 + payload_len;
	memset(pkt, 0, len);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[8] = 64;
	pkt[9] = 17; /* UDP */
	memcpy(pkt + 12, a->inner_addr, 4);
	memcpy(pkt + 16, b->inner_addr, 4);
	pkt[24] = (uint8_t)(seq >> 24);
	pkt[25] = (uint8_t)(seq >> 16);
	pkt[26] = (uint8_t)(seq >> 8);
	pkt[27] = (uint8_t)seq;
	enum drop_reason drop;
	struct peer *peer;
	return device_send_packet(a->dev, pkt, len, a->sim->now, &drop, &peer);
}

enum receive_result sim_inject(struct sim_node *b, const struct endpoint *from, const uint8_t *data, size_t len)
{
	static uint8_t buf[65536];
	memcpy(buf, data, len);
	return device_receive(b->dev, from, buf, len, b->sim->now);
}

static uint64_t next_timer(struct sim *sim)
{
	uint64_t t = UINT64_MAX;
	for (int i = 0; i < sim->node_count; i++) {
		uint64_t d = device_next_deadline(sim->nodes[i].dev);
		if (d < t)
			t = d;
	}
	return t;
}

void sim_run_until(struct sim *sim, uint64_t t)
{
	for (;;) {
		uint64_t next_packet = sim->queue_len ? sim->queue[0]->at : UINT64_MAX;
		uint64_t next = next_timer(sim);
		if (next_packet < next)
			next = next_packet;
		if (next > t)
			break;
		if (next > sim->now)
			sim->now = next;
		if (next_packet <= sim->now && next_packet == next) {
			struct sim_packet *p = queue_pop(sim);
			struct sim_node *to = &sim->nodes[p->to];
			device_receive(to->dev, &p->src, p->data + MESSAGE_DATA_HEADROOM, p->len, sim->now);
			free(p);
		} else {
			for (int i = 0; i < sim->node_count; i++)
				device_run_timers(sim->nodes[i].dev, sim->now);
		}
	}
	sim->now = t;
}

void sim_run_for(struct sim *sim, uint64_t dt)
{
	sim_run_until(sim, sim->now + dt);
}

bool sim_run_until_true(struct sim *sim, bool (*cond)(struct sim *, void *), void *ctx, uint64_t max_ns)
{
	uint64_t end = sim->now + max_ns;
	while (!cond(sim, ctx)) {
		if (sim->now >= end)
			return false;
		sim_run_for(sim, NSEC_PER_MSEC);
	}
	return true;
}

size_t sim_count_events(const struct sim_node *node, enum device_event_type type)
{
	size_t n = 0, first = node->event_count > SIM_MAX_EVENTS ? node->event_count - SIM_MAX_EVENTS : 0;
	for (size_t i = first; i < node->event_count; i++)
		n += node->events[i % SIM_MAX_EVENTS].type == type;
	return n;
}

uint64_t sim_event_time(const struct sim_node *node, enum device_event_type type, size_t n)
{
	size_t first = node->event_count > SIM_MAX_EVENTS ? node->event_count - SIM_MAX_EVENTS : 0;
	for (size_t i = first; i < node->event_count; i++)
		if (node->events[i % SIM_MAX_EVENTS].type == type && n-- == 0)
			return node->events[i % SIM_MAX_EVENTS].at;
	return UINT64_MAX;
}

bool sim_has_session(struct sim_node *node, struct sim_node *other)
{
	struct peer_info info;
	peer_get_info(sim_peer_of(node, other), &info);
	return info.has_current_keypair;
}

static bool both_have_sessions(struct sim *sim, void *ctx)
{
	(void)ctx;
	return sim_has_session(&sim->nodes[0], &sim->nodes[1]) && sim_has_session(&sim->nodes[1], &sim->nodes[0]);
}

bool sim_pair(struct sim *sim, struct sim_node **a, struct sim_node **b)
{
	*a = sim_add_node(sim);
	*b = sim_add_node(sim);
	sim_connect(*a, *b, false);
	peer_send_keepalive_now(sim_peer_of(*a, *b), sim->now);
	return sim_run_until_true(sim, both_have_sessions, NULL, 2 * NSEC_PER_SEC);
}

bool sim_capture_filter(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len)
{
	struct sim_capture *c = ctx;
	(void)to;
	if ((c->from && c->from != from) || (c->type != MESSAGE_INVALID && message_type_of(data, *len) != c->type))
		return true;
	size_t limit = c->max && c->max < 16 ? c->max : 16;
	if (c->count >= limit || *len > sizeof(c->data[0]))
		return true;
	memcpy(c->data[c->count], data, *len);
	c->len[c->count] = *len;
	c->src[c->count] = from->addr;
	c->count++;
	return !c->swallow;
}
