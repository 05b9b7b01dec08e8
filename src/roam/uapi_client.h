/* The client side of the cross-platform UAPI (docs/protocol.md §7): finding the
 * daemons' sockets, asking one for its state, configuring one. One parser
 * turns a `get` reply into a struct uapi_device for roam show, metrics and
 * doctor alike.
 *
 * `get=2` is roamd's extension: the `get=1` reply plus roam_* lines (the
 * schema is in src/common/uapi_contract.h). wireguard-go closes the connection
 * on it without a word, so uapi_get_device falls back to `get=1` and says
 * so in uapi_device.extended; every roam_* field is then zero. */
#ifndef ROAM_UAPI_CLIENT_H
#define ROAM_UAPI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_prefix.h"
#include "uapi_contract.h"

enum {
	UAPI_NAME_MAX = 32,	/* drop reasons, history kinds */
	UAPI_ENDPOINT_MAX = 72,	/* "[v6%scope]:port" and a NUL */
};

/* A counter per named cause, in the daemon's order. */
struct uapi_drop {
	char reason[UAPI_NAME_MAX];
	uint64_t count;
};

struct uapi_history {
	char kind[UAPI_NAME_MAX];	/* endpoint_changed, handshake_complete, ... */
	uint64_t wall_sec;		/* when, Unix time */
	uint32_t wall_nsec;
	uint64_t age_ms;		/* how long ago, by the daemon's monotonic clock */
	char old_endpoint[UAPI_ENDPOINT_MAX];	/* "" for none */
	char new_endpoint[UAPI_ENDPOINT_MAX];
	uint64_t idle_ms;		/* endpoint changes: silence before */
};

/* A host name roamd follows for a peer (roam_name). */
enum { UAPI_NAME_ADDRS_MAX = 8, UAPI_HOST_PORT_MAX = 253 + 7 };
struct uapi_name {
	char host_port[UAPI_HOST_PORT_MAX];	/* "HOST:PORT" */
	unsigned ttl_s;				/* 0: no answer yet */
	bool has_next;
	unsigned long next_s;			/* to the next lookup */
	char status[16];			/* ok, resolving, failed */
	char addrs[UAPI_NAME_ADDRS_MAX][UAPI_ENDPOINT_MAX];
	size_t n_addrs;
};

struct uapi_peer {
	uint8_t public_key[KEY_LEN];
	bool has_preshared_key;		/* the key itself is never kept */
	char endpoint[UAPI_ENDPOINT_MAX];	/* "" if none */
	uint64_t last_handshake_sec;	/* Unix time; 0 if never */
	uint32_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive;	/* seconds, 0 = off */
	struct ip_prefix *allowed_ips;
	size_t n_allowed_ips;

	/* roam_* lines (uapi_device.extended). */
	uint64_t rx_packets, tx_packets;
	bool has_session;
	uint64_t handshake_attempts;
	uint64_t responses_unconfirmed;	/* handshake responses the peer never confirmed */
	bool has_last_disallowed_src;
	struct ip_prefix last_disallowed_src;	/* the latest disallowed_src drop's inner source */
	bool has_last_receive_age, has_last_handshake_age;
	uint64_t last_receive_age_ms, last_handshake_age_ms;
	bool has_unanswered;
	uint64_t unanswered_ms;			/* data sent and nothing received since, this long */
	struct uapi_drop *drops;
	size_t n_drops;
	uint64_t endpoint_changes, nat_rebinds;
	uint64_t nat_rebound_min_idle_ms;	/* 0: no evidence */
	uint64_t nat_kept_max_idle_ms;		/* 0: no evidence */
	unsigned suggested_keepalive;		/* seconds; 0: no evidence */
	char path_mtu_origin[16];		/* "" (not roamd), "interface", "icmp", "local", "probe" */
	unsigned path_mtu, path_inner_mtu;	/* 0: none learnt */
	char path_probe[16];			/* the last search's result; "" (not roamd) */
	bool has_path_probe_age;
	uint64_t path_probe_age_ms;
	uint64_t path_probes_sent, path_probes_answered;
	struct uapi_history *history;		/* oldest first */
	size_t n_history;
	char (*candidates)[UAPI_ENDPOINT_MAX];	/* in order of preference */
	size_t n_candidates;
	int candidate_index;			/* the endpoint's place; -1 none */
	struct uapi_name *names;		/* host names roamd follows, in order */
	size_t n_names;
};

struct uapi_device {
	char name[UAPI_IFNAME_MAX];
	bool has_private_key;
	uint8_t public_key[KEY_LEN];	/* derived; the private key is wiped */
	uint16_t listen_port;		/* 0: not listening */
	uint32_t fwmark;		/* 0: off */
	bool extended;			/* roam_* lines were present (roamd) */
	unsigned roam_version;
	bool under_load;
	struct uapi_drop *drops;	/* device-wide totals */
	size_t n_drops;
	struct uapi_peer *peers;
	size_t n_peers;
	bool unanswered;		/* listed, but its daemon did not answer (metrics) */
};

/* Parses one `get` reply: the key=value lines up to and including the
 * errno line (a trailing blank line is allowed). As strict as wg's own
 * parser (device keys only before the first public_key, plain decimal
 * numbers, an errno line required) but, like wg, ignores keys it does not
 * know, so a newer daemon's additions are harmless. Returns 0, -EPROTO
 * with a reason in err, or the daemon's errno as a negative number. */
int uapi_parse_get(const char *text, size_t len, struct uapi_device *dev, char *err, size_t err_len);
void uapi_device_free(struct uapi_device *dev);

/* The same parser fed piece by piece, as the reply arrives (uapi_parse.c):
 * a reply of 100,000 peers is some 40 MB that need never be held whole.
 * init; feed the text received so far (it is modified in place), which
 * returns how many bytes it consumed: what is left is the start of a line,
 * to be fed again with what follows it; once done (the blank line that
 * ends a reply, or an error) nothing more is read; finish with whatever
 * was left (NUL-terminated, "" for nothing) returns what uapi_parse_get
 * would. */
struct uapi_get_parser {
	struct uapi_device *dev;
	struct uapi_peer *peer;		/* the one lines are about; NULL before any */
	bool have_errno, ended;
	int64_t daemon_errno;
	unsigned lineno;
	int ret;			/* nonzero: malformed (err says why) */
	char *err;
	size_t err_len;
};
void uapi_get_parser_init(struct uapi_get_parser *gp, struct uapi_device *dev, char *err, size_t err_len);
size_t uapi_get_parser_feed(struct uapi_get_parser *gp, char *data, size_t len);
bool uapi_get_parser_done(const struct uapi_get_parser *gp);
/* One line, without its '\n'; false once done. */
bool uapi_get_parser_line(struct uapi_get_parser *gp, char *line);
int uapi_get_parser_finish(struct uapi_get_parser *gp, char *rest);

/* The socket path of ifname. false if the name cannot be an interface's. */
bool uapi_socket_path(const char *ifname, char path[UAPI_SOCKET_PATH_MAX]);
/* Connects to ifname's daemon (close-on-exec, send/receive timeouts).
 * Returns the fd or -errno (-ENOENT: no such socket; -ECONNREFUSED: a
 * stale one, its daemon gone). */
int uapi_connect(const char *ifname);
/* The pid of the process listening on ifname's socket (SO_PEERCRED), or
 * -errno. */
int uapi_daemon_pid(const char *ifname);
/* When ifname has no socket but a link of that name exists (a kernel
 * WireGuard interface that wg-quick made, or not a WireGuard interface at
 * all): true, with one sentence saying so in msg. */
bool uapi_link_without_socket(const char *ifname, char *msg, size_t msg_len);
/* Asks ifname's daemon for get=2, falling back to get=1 (see the top).
 * 0 or -errno, with a one-line reason in err. */
int uapi_get_device(const char *ifname, struct uapi_device *dev, char *err, size_t err_len);
/* Every interface whose socket answers, sorted by name, as wg show does.
 * Stale sockets are skipped (and left alone). names is NULL-terminated;
 * free with uapi_names_free. 0 or -errno (the directory missing is 0
 * interfaces, not an error). */
int uapi_list_interfaces(char ***names, size_t *n);
void uapi_names_free(char **names);
/* For the reporting commands: ifname's device, or every interface's when
 * ifname is NULL. Each failure is printed as "roam CMD: reason" and
 * skipped, except an interface that vanished between listing and asking.
 * Returns how many failed, or -1 if the interfaces could not even be
 * listed. */
int uapi_get_devices(const char *cmd, const char *ifname, struct uapi_device **devs, size_t *n);
void uapi_devices_free(struct uapi_device *devs, size_t n);

/* roamd's events after seq `after` (uapi_contract.h, "get=3"): the raw
 * reply, roam_event lines and all, in *reply (free it). 0, or -errno with
 * a one-line reason in err; -ENOTSUP: not roamd (wireguard-go hung up). */
int uapi_fetch_events(const char *ifname, uint64_t after, char **reply, size_t *reply_len, char *err,
		      size_t err_len);

/* A set=1 request under construction. It may hold private and preshared
 * keys, so its memory is wiped whenever it moves and when freed. */
struct uapi_request {
	char *data;
	size_t len, cap;
};
void uapi_request_add(struct uapi_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* name=<64 lowercase hex> */
void uapi_request_add_key(struct uapi_request *req, const char *name, const uint8_t key[KEY_LEN]);
void uapi_request_free(struct uapi_request *req);
/* Sends "set=1", the lines, a blank line; 0 or the daemon's errno as a
 * negative number (or -errno of the socket), with a reason in err. */
int uapi_set_device(const char *ifname, const struct uapi_request *req, char *err, size_t err_len);

#endif
