/* roam reresolve: resolve the host name endpoints of `roam up` again.
 *
 * A WireGuard daemon only knows numbers, so a peer configured as
 * "vpn.example.org:51820" keeps the address it had at `up` for ever. When
 * that peer's address moves (a home server on a dynamic address, a server
 * moved to another machine) the tunnel is dead until someone restarts it.
 * `roam up` keeps each name in its ledger; this command looks them up again
 * and hands a changed address to the daemon.
 *
 * It changes an endpoint only when the peer's session is not alive: no
 * handshake for SESSION_ALIVE_MS. Roaming comes first: an endpoint the
 * daemon learnt from authenticated packets is newer news than any DNS
 * answer (the peer may itself have roamed, or sit behind a NAT that shows
 * another address than its name), and a working session proves it right.
 * A peer that handshakes every two minutes while traffic flows and has not
 * for longer is the one whose address may have moved. --force changes it
 * anyway.
 *
 * Meant to be run every half minute or so, from a systemd timer or cron;
 * without IFNAME it takes every interface that has a ledger. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolve.h"
#include "show.h"
#include "state.h"
#include "uapi_client.h"

enum {
	/* REKEY_AFTER_TIME plus the time a rekey takes (docs/protocol.md §5): a
	 * peer in use has handshaken more recently than this. wg-quick's
	 * reresolve-dns script draws the line at the same place. */
	SESSION_ALIVE_MS = 135 * 1000,
};

static const char reresolve_usage[] =
	"Usage: roam reresolve [IFNAME] [--force]\n"
	"\n"
	"Resolves again the host name endpoints that 'roam up' resolved (they are kept in\n"
	"/run/roam/IFNAME.state) and gives the daemon the new address of each peer whose\n"
	"session is not alive (no handshake for 135 s). A live session is left alone: its\n"
	"endpoint follows the peer's authenticated packets, which beat any DNS answer.\n"
	"--force sets the resolved address even then. Without IFNAME: every interface\n"
	"'roam up' brought up. Against roamd it also asks the daemon to resolve its peers'\n"
	"names now (roamd follows them itself: no timer or cron job is needed there);\n"
	"against wireguard-go, run it periodically (a systemd timer, cron).\n"
	"\n"
	"One line per name: unchanged, updated, kept (session alive) or failed.\n"
	"Exit status: 0, or 1 if a name could not be resolved or an update failed.\n";

static const struct uapi_peer *find_peer(const struct uapi_device *dev, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, key, KEY_LEN))
			return &dev->peers[i];
	return NULL;
}

static int set_endpoint(const char *ifname, const uint8_t key[KEY_LEN], const char *endpoint, char *err,
			size_t err_len)
{
	struct uapi_request req = { 0 };
	int ret;

	uapi_request_add_key(&req, "public_key", key);
	/* A peer removed since `up` stays removed. */
	uapi_request_add(&req, "update_only=true\n");
	uapi_request_add(&req, "endpoint=%s\n", endpoint);
	ret = uapi_set_device(ifname, &req, err, err_len);
	uapi_request_free(&req);
	return ret;
}

/* One ledger entry. Returns 0 or 1 (a failure); *changed when the ledger's
 * record of the resolved address changed. */
static int reresolve_one(const char *ifname, const struct uapi_device *dev, struct state_endpoint *e, bool force,
			 uint64_t now_ms, bool *changed)
{
	char b64[KEY_B64_LEN + 1], fresh[UAPI_ENDPOINT_MAX], err[256];
	const struct uapi_peer *peer;
	struct ip_prefix addr;
	uint64_t age_ms = 0;
	bool alive;

	key_to_base64(b64, e->public_key);
	printf("%s peer %s: %s:%u ", ifname, b64, e->host, e->port);
	peer = find_peer(dev, e->public_key);
	if (!peer) {
		puts("-> not configured any more (skipped)");
		return 0;
	}
	if (endpoint_resolve(e->host, e->port, &addr, fresh, err, sizeof(err))) {
		printf("-> failed: %s (endpoint stays %s)\n", err, peer->endpoint[0] ? peer->endpoint : "unset");
		return 1;
	}
	if (strcmp(e->resolved, fresh)) {
		strcpy(e->resolved, fresh);
		*changed = true;
	}
	if (!strcmp(peer->endpoint, fresh)) {
		printf("-> %s (unchanged)\n", fresh);
		return 0;
	}
	alive = peer_handshake_verdict(peer, now_ms, &age_ms) != HANDSHAKE_NEVER && age_ms < SESSION_ALIVE_MS;
	if (alive && !force) {
		printf("-> %s; kept %s (session alive, handshake %llu s ago)\n", fresh, peer->endpoint,
		       (unsigned long long)(age_ms / 1000));
		return 0;
	}
	if (set_endpoint(ifname, e->public_key, fresh, err, sizeof(err))) {
		printf("-> %s; update failed: %s\n", fresh, err);
		return 1;
	}
	printf("-> %s (updated from %s)\n", fresh, peer->endpoint[0] ? peer->endpoint : "none");
	return 0;
}

static int reresolve_interface(const char *ifname, bool force)
{
	char err[512];
	struct roam_state st;
	struct uapi_device dev = { 0 };
	bool changed = false;
	int ret, failed = 0;

	ret = state_load(ifname, &st, err, sizeof(err));
	if (ret) {
		if (ret == -ENOENT)
			fprintf(stderr, "roam reresolve: %s was not brought up by 'roam up' (no %s/%s.state)\n", ifname,
				state_dir(), ifname);
		else
			fprintf(stderr, "roam reresolve: %s: %s\n", ifname, err);
		return 1;
	}
	if (st.n_endpoints == 0) {
		state_free(&st);
		return 0;
	}
	ret = uapi_get_device(ifname, &dev, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "roam reresolve: %s: %s\n", ifname, err);
		state_free(&st);
		return 1;
	}
	/* roamd follows the names itself (roam up gave them to it): ask it
	 * to look now. wireguard-go and an older roamd refuse the line; the
	 * ledger's path below serves them. */
	if (dev.extended) {
		struct uapi_request req = { 0 };
		uapi_request_add(&req, ROAM_KEY_RESOLVE_NAMES "=true\n");
		if (uapi_set_device(ifname, &req, err, sizeof(err)) == 0)
			printf("%s: roamd follows its peers' names itself; asked it to resolve them now\n", ifname);
		uapi_request_free(&req);
	}
	uint64_t now_ms = wall_clock_ms();
	for (size_t i = 0; i < st.n_endpoints; i++)
		failed |= reresolve_one(ifname, &dev, &st.endpoints[i], force, now_ms, &changed);
	if (changed && (ret = state_save(&st, err, sizeof(err))))
		fprintf(stderr, "roam reresolve: warning: cannot update the ledger of %s: %s\n", ifname, err);
	uapi_device_free(&dev);
	state_free(&st);
	return failed;
}

/* Every IFNAME with a ledger in the state directory. */
static int reresolve_all(bool force)
{
	char err[512];
	int fd = state_dir_open(false, err, sizeof(err)), failed = 0;
	struct dirent *de;
	DIR *dir;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0) {
			snprintf(err, sizeof(err), "%s: %s", state_dir(), strerror(errno));
			close(fd);
		}
		fprintf(stderr, "roam reresolve: %s\n", err);
		return 1;
	}
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		char ifname[UAPI_IFNAME_MAX];
		if (n <= 6 || n - 6 >= sizeof(ifname) || strcmp(de->d_name + n - 6, ".state"))
			continue;
		memcpy(ifname, de->d_name, n - 6);
		ifname[n - 6] = '\0';
		failed |= reresolve_interface(ifname, force);
	}
	closedir(dir);
	return failed;
}

int cmd_reresolve(int argc, char **argv)
{
	const char *ifname = NULL;
	bool force = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(reresolve_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (argv[i][0] == '-' || ifname) {
			fprintf(stderr, "roam reresolve: unexpected argument '%s' (see roam reresolve --help)\n", argv[i]);
			return 2;
		} else {
			ifname = argv[i];
		}
	}
	if (ifname) {
		char path[UAPI_SOCKET_PATH_MAX];
		if (!uapi_socket_path(ifname, path)) {
			fprintf(stderr, "roam reresolve: '%s' cannot be an interface name\n", ifname);
			return 2;
		}
		return reresolve_interface(ifname, force);
	}
	return reresolve_all(force);
}
