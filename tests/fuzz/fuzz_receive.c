/* libFuzzer: arbitrary datagrams into an engine with established sessions.
 * Beyond "no crash, no sanitizer finding", it checks the invariant that
 * matters for roaming: nothing an attacker sends (without the keys) moves
 * a peer's endpoint or is delivered into the tunnel.
 *
 * The first input byte steers the shape, so the fuzzer reaches deep paths
 * quickly instead of dying on the type check: raw bytes, or a header with a
 * valid type and size, or one that also names a live receiver index. */
#include <stdlib.h>
#include <string.h>

#include "device_state.h"
#include "peer.h"
#include "sim.h"

static struct sim sim;
static struct sim_node *a, *b;

static void setup(void)
{
	sim_init(&sim, 7);
	if (!sim_pair(&sim, &a, &b))
		abort();
	/* A third peer with a pending handshake, so response/cookie paths
	 * find a handshake index too. */
	struct sim_node *c = sim_add_node(&sim);
	sim_connect(b, c, false);
	sim.filter = NULL;
	sim_send(b, c, 1, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t buf[2048];
	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1 || size > sizeof(buf))
		return 0;
	uint8_t mode = data[0];
	size--;
	memcpy(buf, data + 1, size);

	struct peer *pa = sim_peer_of(b, a);
	static const size_t sizes[] = {148, 92, 64, 32};
	if (mode & 1 && size >= 4) {
		uint32_t type = 1 + (mode >> 1) % 4;
		if (type != 4 && size < sizes[type - 1]) {
			memset(buf + size, 0, sizes[type - 1] - size);
			size = sizes[type - 1];
		} else if (type != 4) {
			size = sizes[type - 1];
		}
		le32_write(buf, type);
		if (mode & 8 && size >= 12) {
			const struct noise_keypair *kp = pa->keypairs.current;
			uint32_t index = kp ? kp->local_index : 0;
			le32_write(buf + (type == 2 ? 8 : 4), index);
		}
	}

	struct endpoint before = pa->endpoint;
	uint64_t delivered = b->delivered;
	struct endpoint attacker;
	uint8_t ip[4] = {203, 0, 113, (uint8_t)(mode | 1)};
	endpoint_from_bytes(&attacker, AF_INET, ip, 666);
	device_receive(b->dev, &attacker, buf, size, sim.now);
	if (!endpoint_same_remote(&before, &pa->endpoint) || b->delivered != delivered)
		abort();
	/* Let time move a little so timers run too, and keep a live session
	 * (re-handshaking when it ages out) so index-naming inputs reach the
	 * keypair paths. */
	sim_run_for(&sim, (uint64_t)(mode >> 4) * NSEC_PER_MSEC);
	if (!pa->keypairs.current || sim.now - pa->keypairs.current->birth > 100 * NSEC_PER_SEC) {
		sim_send(a, b, 0, 10);
		sim_run_for(&sim, NSEC_PER_SEC);
	}
	return 0;
}
