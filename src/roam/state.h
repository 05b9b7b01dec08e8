/* The ledger of `roam up`: every change it made to the system, written to
 * /run/roam/IFNAME.state (mode 0600) after each one, so `roam down` undoes
 * exactly those, also after roamd or roam up itself died half-way.
 *
 * The file is line-based text, one record per line, "KEY VALUE...":
 *   roam-state 1                         format version, first line
 *   interface IFNAME
 *   config PATH                          the file it came from (to the end of the line)
 *   netns INODE                          of /proc/self/ns/net: down must run there too
 *   roamd PID STARTTIME                  STARTTIME from /proc/PID/stat: tells a reused pid
 *   link IFINDEX                         the interface roamd made
 *   fwmark MARK                          what up gave the daemon (0 none)
 *   src_valid_mark 1                     up turned net.ipv4.conf.all.src_valid_mark on
 *   dns resolvconf|resolvectl
 *   address ADDR/CIDR
 *   route TABLE PREFIX
 *   rule inet|inet6 PRIORITY TABLE FWMARK invert|- SUPPRESS_PREFIXLEN|-
 *   nft ip|ip6 TABLE                     a full tunnel's nftables table (firewall.h)
 *   endpoint PUBKEY HOST PORT RESOLVED   a host name endpoint, kept to resolve it again later
 *   pre_down HOOK                        (to the end of the line, %i not yet replaced)
 *   post_down HOOK
 * Records are grouped by kind, not kept in the order they happened: down
 * undoes them in an order of its own (down.c), which does not depend on
 * how far up got. */
#ifndef ROAM_STATE_H
#define ROAM_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ip_prefix.h"
#include "key_encoding.h"
#include "dns.h"
#include "firewall.h"
#include "rtnl.h"
#include "uapi_client.h"

#define STATE_DIR "/run/roam"

struct state_route {
	struct ip_prefix dst;
	uint32_t table;
};

struct state_nft_table {
	int family;
	char name[FIREWALL_TABLE_MAX];
};

struct state_endpoint {
	uint8_t public_key[KEY_LEN];
	char *host;
	uint16_t port;
	char resolved[UAPI_ENDPOINT_MAX];
};

struct roam_state {
	char ifname[UAPI_IFNAME_MAX];
	char *config;
	uint64_t netns;
	pid_t roamd_pid;		/* 0: not started */
	uint64_t roamd_start;
	int ifindex;			/* 0: no link yet */
	uint32_t fwmark;
	bool src_valid_mark;
	enum dns_method dns;
	struct ip_prefix *addresses;
	size_t n_addresses;
	struct state_route *routes;
	size_t n_routes;
	struct rtnl_rule *rules;
	size_t n_rules;
	struct state_nft_table *nft_tables;
	size_t n_nft_tables;
	struct state_endpoint *endpoints;
	size_t n_endpoints;
	char **pre_down, **post_down;
	size_t n_pre_down, n_post_down;
};

/* STATE_DIR/IFNAME.state */
void state_path(const char *ifname, char *buf, size_t len);
/* Replaces the file atomically (a crash leaves the old or the new one). */
int state_write_file(const char *path, const struct roam_state *st);
/* 0, -ENOENT, -errno, or -EINVAL with the offending line in err. */
int state_read_file(const char *path, struct roam_state *st, char *err, size_t err_len);
/* The same at state_path(st->ifname), creating STATE_DIR if needed. */
int state_save(const struct roam_state *st);
int state_load(const char *ifname, struct roam_state *st, char *err, size_t err_len);
int state_remove(const char *ifname);
void state_free(struct roam_state *st);

/* The inode of this process's network namespace (0 if unknown). */
uint64_t state_current_netns(void);
/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot; 0 if there is no such process. */
uint64_t state_process_start(pid_t pid);

#endif
