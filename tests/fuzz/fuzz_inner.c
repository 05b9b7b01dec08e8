/* libFuzzer: the path after decryption. fuzz_receive cannot forge a tag,
 * so everything behind aead_open is out of its reach; here the fuzzer's
 * bytes are the plaintext of data messages sealed with a live keypair (as
 * a peer that holds the keys, or a compromised one, would send them), so
 * they meet the inner header checks, the allowed-IPs source check, a path
 * probe answer check (a search is kept in flight) and the gluing for the
 * TUN device (struct gro, as datapath.c does for a batch).
 *
 * Input: one mode byte, then inner packets, each a 2-byte big-endian
 * length and its bytes (cut short by the end of the input). Mode bits 0-2:
 * what gro may glue (TCP, UDP) and whether it trusts checksums.
 *
 * Beyond "no crash": only packets that decrypt are delivered, each a
 * whole IPv4 or IPv6 packet (its own length, padding stripped) from a
 * source the sending peer's allowed IPs hold; a probe answer is never
 * delivered; gluing writes each delivered packet exactly once. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "device_state.h"
#include "ip_header.h"
#include "offload.h"
#include "peer.h"
#include "sim.h"

enum { MAX_PACKETS = 64 };

static struct sim sim;
static struct sim_node *a, *b;
static struct peer *b_at_a;	/* the sender, as the receiver knows it */

/* What reached the TUN side of the receiver in this input. */
static size_t delivered, delivered_iovs;
static struct gro gro;

static bool swallow(void *ctx, struct sim_node *from, struct sim_node *to, uint8_t *data, size_t *len)
{
	(void)ctx, (void)from, (void)to, (void)data, (void)len;
	return false;
}

static void deliver(void *ctx, struct peer *peer, uint8_t *data, size_t len)
{
	(void)ctx;
	if (peer != b_at_a || len < IP4_HDR_LEN)
		abort();
	int family;
	size_t ip_len;
	const uint8_t *src;
	if (ip_version(data) == 4) {
		family = AF_INET, ip_len = ip_get16(data + IP4_TOTAL_LEN), src = data + IP4_SRC;
	} else if (ip_version(data) == 6 && len >= IP6_HDR_LEN) {
		family = AF_INET6, ip_len = IP6_HDR_LEN + (size_t)ip_get16(data + IP6_PAYLOAD_LEN), src = data + IP6_SRC;
	} else {
		abort();
	}
	if (ip_len != len || allowedips_lookup(&a->dev->allowedips, family, src) != b_at_a)
		abort();
	delivered++;
	gro_add(&gro, data, len);
}

static void check_emit(void *ctx, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt)
{
	(void)ctx, (void)h, (void)iov;
	delivered_iovs += (size_t)iovcnt;
}

/* A fresh session, and a path search in flight that nothing answers (the
 * probes are swallowed), so answers can be tried against it. */
static void refresh(void)
{
	sim.filter = NULL;
	sim_send(a, b, 0, 10);
	sim_run_for(&sim, NSEC_PER_SEC);
	sim.filter = swallow;
	if (!sim_has_session(b, a))
		abort();
}

static void start_search(void)
{
	/* Past the minimum gap between searches, then a search now. */
	sim_run_for(&sim, 2 * NSEC_PER_SEC);
	b_at_a->probe.search_wanted = true;
	pathprobe_timer(b_at_a, sim.now);
}

static void setup(void)
{
	sim_init(&sim, 19);
	if (!sim_pair(&sim, &a, &b))
		abort();
	b_at_a = sim_peer_of(a, b);
	/* More sources for b than its /32: a v4 range and IPv6. */
	static const uint8_t v4[4] = {198, 19, 1, 0};
	static const uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	if (peer_allowedips_insert(b_at_a, AF_INET, v4, 24) || peer_allowedips_insert(b_at_a, AF_INET6, v6, 64))
		abort();
	device_set_path_probing(a->dev, true);
	a->dev->io.deliver = deliver;
	refresh();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	/* Each packet in a buffer of its own: gro holds them to the flush. */
	static uint8_t bufs[MAX_PACKETS][MESSAGE_DATA_HEADER_LEN + 4096 + NOISE_AUTHTAG_LEN];
	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;

	struct noise_keypair *kp = sim_peer_of(b, a)->keypairs.current;
	if (!kp || sim.now - kp->birth > 100 * NSEC_PER_SEC) {
		refresh();
		kp = sim_peer_of(b, a)->keypairs.current;
	}
	if (!b_at_a->probe.round_deadline)
		start_search();

	delivered = delivered_iovs = 0;
	gro_init(&gro, mode & 1, mode & 2, check_emit, NULL);
	gro.sums_trusted = mode & 4;
	for (unsigned n = 0; n < MAX_PACKETS && size >= 2; n++) {
		size_t len = ip_get16(data);
		data += 2, size -= 2;
		if (len > size)
			len = size;
		if (len > 4096)
			len = 4096;
		uint8_t *msg = bufs[n];
		le32_write(msg, MESSAGE_DATA);
		le32_write(msg + 4, kp->remote_index);
		le64_write(msg + 8, kp->send_counter);
		aead_seal(b->dev->aead, msg + MESSAGE_DATA_HEADER_LEN, data, len, NULL, 0, kp->send_counter++,
			  kp->send_key);
		data += len, size -= len;

		struct endpoint before = b_at_a->endpoint;
		size_t was = delivered;
		enum receive_result r =
			device_receive(a->dev, &b->addr, msg, MESSAGE_DATA_HEADER_LEN + len + NOISE_AUTHTAG_LEN, sim.now);
		if ((r == RECEIVED_DATA) != (delivered == was + 1) || delivered > was + 1)
			abort();
		if (!endpoint_same_remote(&before, &b_at_a->endpoint))
			abort();
	}
	gro_flush(&gro);
	if (delivered_iovs != delivered)
		abort();
	return 0;
}
