/* libFuzzer: arbitrary network-layer frames into roam doctor's capture
 * parser (capture_account), which reads what the packet socket hands it
 * from anyone on the network. The kernel filter in front of it is not
 * relied on here: the parser must hold by itself.
 *
 * Input: one byte choosing the ethertype (IPv4, IPv6, or neither), two
 * bytes of port (big-endian), then the frame. The frame is copied into a
 * block of exactly its size, so AddressSanitizer sees any read past it.
 * Beyond "no crash", the counts must stay consistent: one datagram per
 * frame at most, every datagram under exactly one type, and the senders
 * bounded by CAPTURE_MAX_SOURCES. The kept corpus is in
 * tests/fuzz/corpus/fuzz_capture/. */
#include <linux/if_ether.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

static struct capture_result result;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t protos[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_ARP };
	uint64_t before = result.datagrams, typed = 0;
	uint16_t port;
	uint8_t *frame;

	if (size < 3)
		return 0;
	port = (uint16_t)(data[1] << 8 | data[2]);
	frame = malloc(size - 3 ? size - 3 : 1);
	if (!frame)
		abort();
	memcpy(frame, data + 3, size - 3);
	capture_account(&result, protos[data[0] % 3], frame, size - 3, port);
	free(frame);
	if (result.datagrams - before > 1 || result.n_sources > CAPTURE_MAX_SOURCES)
		abort();
	for (size_t i = 0; i < 5; i++)
		typed += result.by_type[i];
	if (typed != result.datagrams)
		abort();
	return 0;
}
