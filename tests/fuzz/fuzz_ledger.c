/* libFuzzer: the ledger parser (src/roam/state.c), which reads what
 * `roam up` recorded in /run/roam/IFNAME.state so `roam down` can undo it
 * (and run its hooks, as root). The file's owner and mode are checked
 * before it is parsed (state_read_file); the parser must still hold on any
 * bytes: a crash would leave an interface nobody can take down.
 *
 * Beyond "no crash": a ledger that parses is written back (state_write_file)
 * and read again (state_read_file, the whole path with its checks), and
 * says the same: interface, config, netns, roamd, hooks, and as many
 * addresses, routes, rules and endpoints, in the same order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

static bool same_strings(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

static bool same_state(const struct roam_state *a, const struct roam_state *b)
{
	if (strcmp(a->ifname, b->ifname) || !a->config != !b->config || (a->config && strcmp(a->config, b->config)))
		return false;
	if (a->netns != b->netns || a->roamd_pid != b->roamd_pid || (a->roamd_pid && a->roamd_start != b->roamd_start))
		return false;
	if (a->ifindex != b->ifindex || a->fwmark != b->fwmark || a->src_valid_mark != b->src_valid_mark ||
	    a->dns != b->dns)
		return false;
	if (a->n_addresses != b->n_addresses || a->n_routes != b->n_routes || a->n_rules != b->n_rules ||
	    a->n_endpoints != b->n_endpoints)
		return false;
	for (size_t i = 0; i < a->n_endpoints; i++)
		if (strcmp(a->endpoints[i].host, b->endpoints[i].host) || a->endpoints[i].port != b->endpoints[i].port ||
		    strcmp(a->endpoints[i].resolved, b->endpoints[i].resolved) ||
		    memcmp(a->endpoints[i].public_key, b->endpoints[i].public_key, KEY_LEN))
			return false;
	return same_strings(a->pre_down, a->n_pre_down, b->pre_down, b->n_pre_down) &&
	       same_strings(a->post_down, a->n_post_down, b->post_down, b->n_post_down);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/dev/shm/fuzz_ledger.%d", (int)getpid());

	char *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	FILE *f = fmemopen(copy, size ? size : 1, "r");
	if (!f)
		abort();
	if (!size)
		fgetc(f); /* an empty file: fmemopen needs at least a byte */
	struct roam_state st, back;
	char err[512];
	int ret = state_read_stream(f, "fuzz", &st, err, sizeof(err));
	fclose(f);
	free(copy);
	if (ret)
		return 0;
	if (state_write_file(path, &st))
		abort();
	if (state_read_file(path, &back, err, sizeof(err)) || !same_state(&st, &back))
		abort();
	unlink(path);
	state_free(&st);
	state_free(&back);
	return 0;
}
