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
#include <stdio.h>
#include <sys/types.h>

#include "ip_prefix.h"
#include "key_encoding.h"
#include "dns.h"
#include "firewall.h"
#include "rtnl.h"
#include "uapi_client.h"

#define STATE_DIR "/run/roam"
/* Where the tests keep a private state directory instead (see state_dir). */
#define STATE_DIR_ENV "ROAM_STATE_DIR"

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

/* STATE_DIR, or $ROAM_STATE_DIR when set: the integration tests point it at
 * a directory of their own, since /run/roam is shared with every other
 * test that runs at the same time. It is held to the same checks. */
const char *state_dir(void);
/* Opens the state directory, first creating it (mkdir 0700) if create.
 * `roam down` runs the hooks recorded there as root, so it is refused
 * (-EPERM, the reason in err) unless it is a real directory, not a
 * symbolic link, owned by root (or the user running roam; trust.h), of
 * mode exactly 0700, below directories no other user can write. Returns
 * the fd, -ENOENT if it does not exist (and !create), or -errno. */
int state_dir_open(bool create, char *err, size_t err_len);

/* state_dir()/IFNAME.state */
void state_path(const char *ifname, char *buf, size_t len);
/* Replaces the file atomically (a crash leaves the old or the new one).
 * -EINVAL if a path, hook or host holds a control character: a newline
 * there would forge a record. */
int state_write_file(const char *path, const struct roam_state *st);
/* 0, -ENOENT, -errno, -EINVAL with the offending line in err (a control
 * character counts as malformed), or -EPERM with the reason in err if
 * the file is a symbolic link, not a regular file, or could have been
 * written by another user (trust.h). The checks are made on the opened
 * file itself (fstat), so it cannot be swapped in between. */
int state_read_file(const char *path, struct roam_state *st, char *err, size_t err_len);
/* The records alone, from a stream the caller has checked (state_read_file
 * does, then calls this; the ledger fuzz target feeds it bytes): 0, or
 * -EINVAL / -EIO with the reason in err. st is empty on failure. */
int state_read_stream(FILE *f, const char *path, struct roam_state *st, char *err, size_t err_len);
/* The same at state_path(st->ifname), through state_dir_open (creating
 * the directory to save), with the reason in err. */
int state_save(const struct roam_state *st, char *err, size_t err_len);
int state_load(const char *ifname, struct roam_state *st, char *err, size_t err_len);
int state_remove(const char *ifname);
void state_free(struct roam_state *st);

/* The inode of this process's network namespace (0 if unknown). */
uint64_t state_current_netns(void);
/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot; 0 if there is no such process. */
uint64_t state_process_start(pid_t pid);
/* The process PID that started at START still runs (not a zombie). */
bool state_process_running(pid_t pid, uint64_t start);

#endif
