/* wg-quick configuration files (docs/protocol.md §8.1, §8.2): the parser
 * `roam up`, `roam audit` and `roam doctor` share. What it reports with
 * (diag.h), the values it produces (ip_prefix.h, key_encoding.h) and its
 * memory helpers (alloc.h) are their own modules, so readers of a daemon's
 * state need none of the parser.
 *
 * The parser never stops at the first problem: it records each one with its
 * line in a diag_list and goes on, so `roam audit` can show them all at once
 * and `roam up` can refuse a file that has any error. Every value keeps the
 * line it came from; a line of 0 means "not set". */
#ifndef ROAM_CONFIG_H
#define ROAM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "alloc.h"
#include "diag.h"
#include "ip_prefix.h"
#include "key_encoding.h"

/* Endpoint plus extra endpoints: roamd's bound on a peer's candidates
 * (UAPI_MAX_ENDPOINT_CANDIDATES). */
enum { CONFIG_MAX_ENDPOINTS = 16 };
#define CONFIG_DIRECTIVE "#roam:"

/* ---- the parsed file --------------------------------------------------- */

struct config_prefix {
	struct ip_prefix prefix;
	unsigned line;
};

/* A DNS entry is either a nameserver address or a search domain. */
struct config_dns {
	bool is_addr;
	struct ip_prefix addr;	/* cidr 32/128 */
	char *domain;
	unsigned line;
};

struct config_string {
	char *s;
	unsigned line;
};

enum config_hook { CONFIG_PRE_UP, CONFIG_POST_UP, CONFIG_PRE_DOWN, CONFIG_POST_DOWN, CONFIG_HOOK_COUNT };

struct config_interface {
	unsigned line;			/* of [Interface]; 0 if the file has none */
	uint8_t private_key[KEY_LEN];
	unsigned private_key_line;
	uint16_t listen_port;
	unsigned listen_port_line;
	uint32_t fwmark;		/* "off" is 0 */
	unsigned fwmark_line;
	struct config_prefix *addresses;
	size_t n_addresses;
	struct config_dns *dns;
	size_t n_dns;
	uint32_t mtu;
	unsigned mtu_line;
	char *table;			/* "auto", "off", a number or a name */
	char *table_written;		/* the same as the file has it, for messages */
	unsigned table_line;
	struct config_string *hooks[CONFIG_HOOK_COUNT];	/* run in file order */
	size_t n_hooks[CONFIG_HOOK_COUNT];
	bool save_config;
	unsigned save_config_line;
};

struct config_endpoint {
	char *host;		/* as written, without brackets */
	uint16_t port;
	bool is_literal;	/* host is an address; then addr holds it */
	struct ip_prefix addr;
	unsigned line;
};

struct config_peer {
	unsigned line;			/* of [Peer] */
	uint8_t public_key[KEY_LEN];
	unsigned public_key_line;	/* 0 only in files with an error */
	uint8_t preshared_key[KEY_LEN];
	unsigned preshared_key_line;
	struct config_prefix *allowed_ips;	/* as written, host bits included */
	size_t n_allowed_ips;
	struct config_endpoint endpoint;
	/* "#roam: Endpoint = host:port" lines: more addresses of the same
	 * peer, after Endpoint in order of preference. A comment to wg-quick
	 * and wg setconf, so the file stays theirs too. */
	struct config_endpoint *extra_endpoints;
	size_t n_extra_endpoints;
	uint16_t persistent_keepalive;	/* "off" is 0 */
	unsigned persistent_keepalive_line;
};

struct config {
	char *path;
	mode_t mode;			/* of the file read; 0 for a string */
	uid_t uid;			/* its owner; 0 for a string */
	struct config_interface iface;
	struct config_peer *peers;
	size_t n_peers;
};

/* Reads and parses path into cfg, appending what is wrong with it to diags.
 * Returns 0 when the file could be read (look at diags for errors in it),
 * or -errno when it could not (cfg is then empty but still needs
 * config_free). Files over 16 MiB are refused with -EFBIG. */
int config_parse_file(const char *path, struct config *cfg, struct diag_list *diags);
/* The same for a file already open (roam up opens it itself, to check the
 * very file it reads); name is used as the file in diagnostics. fd stays
 * open. */
int config_parse_fd(int fd, const char *name, struct config *cfg, struct diag_list *diags);
/* The same for text in memory; name is used as the file in diagnostics. */
void config_parse_string(const char *name, const char *text, size_t len, struct config *cfg,
			 struct diag_list *diags);
/* Wipes the keys and frees everything; cfg may then be reused. */
void config_free(struct config *cfg);

#endif
