/* libFuzzer: the rtnetlink messages netwatch reads (src/roamd/netwatch.c):
 * link, address, route and rule events from the subscription, and the
 * answers to its route queries. They come from the kernel, but their
 * attributes are variable-length and nested (multipath next hops), and a
 * parser that trusts a length it did not check reads past the datagram.
 *
 * Input: one mode byte, then the datagram, copied into a block of exactly
 * its size (4-byte aligned, as the kernel's). Mode bit 0 clear: the
 * messages go to netwatch_parse against a live netwatch (what it knows of
 * the host's links and addresses carries over between inputs, bounded by
 * its tables). Set: the first message is a route query's answer
 * (netwatch_source_fits), for the interface index in the mode's other
 * bits.
 *
 * Beyond "no crash": the routing generation never becomes 0 (it means
 * "unchecked" to the data path). */
#include <libmnl/libmnl.h>
#include <stdlib.h>
#include <string.h>

#include "netwatch.h"

static struct netwatch *nw;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now = 1000000000;
	if (!nw) {
		char err[256];
		/* Interface 5 plays our own TUN device. */
		nw = netwatch_open(5, true, err, sizeof(err));
		if (!nw)
			abort();
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);

	if (mode & 1) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		/* netwatch hands it only a whole message (nw_message_ok). */
		if (size >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= size)
			netwatch_source_fits(nlh, mode >> 1);
	} else {
		netwatch_parse(nw, buf, size, now += 1000000);
		if (!netwatch_generation(nw))
			abort();
	}
	free(buf);
	return 0;
}
