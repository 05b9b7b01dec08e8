/* wg-quick configuration files (docs/protocol.md §8.1, §8.2): the parser every
 * roam command shares, the diagnostics it and `roam audit` report, and the
 * key and address helpers both need.
 *
 * The parser never stops at the first problem: it records each one with its
 * line in a diag_list and goes on, so `roam audit` can show them all at once
 * and `roam up` can refuse a file that has any error. Every value keeps the
 * line it came from; a line of 0 means "not set".
 *
 * Memory: allocation failure ends the process with a message. This is a CLI
 * that cannot do anything useful without memory, and unwinding every parse
 * step for ENOMEM would hide the logic it protects. */
#ifndef ROAM_CONFIG_H
#define ROAM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "key_encoding.h"

/* ---- addresses and prefixes -------------------------------------------- */

/* An IPv4 or IPv6 address with a prefix length. A plain address is a prefix
 * of 32 or 128. addr keeps host bits as written (an Address such as
 * 198.18.0.2/24 needs them); compare with ip_prefix_contains. */
struct ip_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t cidr;
	uint8_t addr[16];	/* 4 bytes used for AF_INET */
};

enum { IP_PREFIX_STRLEN = 46 + 4 };	/* INET6_ADDRSTRLEN + "/128" */

/* "ip" or "ip/cidr". Without a /cidr the result is a single address when
 * cidr_optional, else the parse fails. Strict: no spaces, no leading '+',
 * cidr in decimal within the family's width. */
bool ip_prefix_parse(struct ip_prefix *out, const char *s, bool cidr_optional);
/* True when every address of inner lies in outer (same family). */
bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner);
bool ip_prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b);
bool ip_prefix_has_host_bits(const struct ip_prefix *p);
/* Clears the host bits: the form WireGuard stores and reports. */
void ip_prefix_mask(struct ip_prefix *p);
bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b);
/* "addr/cidr" and "addr" into buf; both return buf. */
const char *ip_prefix_str(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN]);
const char *ip_addr_str(const struct ip_prefix *p, char buf[IP_PREFIX_STRLEN]);

/* ---- memory ------------------------------------------------------------ */

/* Both end the process on allocation failure (see the top of this file). */
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* Grows a heap array of n elements of size bytes so that it holds n + 1.
 * Capacity is not stored: it is the next power of two, so appending is
 * amortised O(1) (a server can have a six-figure number of AllowedIPs). */
void *array_grow(void *v, size_t n, size_t size);
/* Appends one zeroed element to arr (with count n) and yields a pointer to
 * it. arr and n are evaluated more than once: plain lvalues only. */
#define ARRAY_PUSH(arr, n) \
	((arr) = array_grow((arr), (n), sizeof(*(arr))), memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

/* ---- diagnostics ------------------------------------------------------- */

enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_INFO };

/* One finding: FILE:LINE: severity: message (check). check is a stable id
 * (a string literal) that scripts and `roam audit --json` users match on. */
struct diag {
	char *file;
	unsigned line;		/* 0: about the file as a whole */
	enum diag_severity severity;
	const char *check;
	char *message;
	size_t seq;		/* order of diag_add, so sorting by line is stable */
};

struct diag_list {
	struct diag *v;
	size_t n;
};

void diag_add(struct diag_list *list, const char *file, unsigned line, enum diag_severity severity,
	      const char *check, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
size_t diag_count(const struct diag_list *list, enum diag_severity severity);
/* Stable sort by line; findings on one line keep the order they were added. */
void diag_sort(struct diag_list *list);
const char *diag_severity_name(enum diag_severity severity);
void diag_list_free(struct diag_list *list);

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
	uint16_t persistent_keepalive;	/* "off" is 0 */
	unsigned persistent_keepalive_line;
};

struct config {
	char *path;
	mode_t mode;			/* of the file read; 0 for a string */
	struct config_interface iface;
	struct config_peer *peers;
	size_t n_peers;
};

/* Reads and parses path into cfg, appending what is wrong with it to diags.
 * Returns 0 when the file could be read (look at diags for errors in it),
 * or -errno when it could not (cfg is then empty but still needs
 * config_free). Files over 16 MiB are refused with -EFBIG. */
int config_parse_file(const char *path, struct config *cfg, struct diag_list *diags);
/* The same for text in memory; name is used as the file in diagnostics. */
void config_parse_string(const char *name, const char *text, size_t len, struct config *cfg,
			 struct diag_list *diags);
/* Wipes the keys and frees everything; cfg may then be reused. */
void config_free(struct config *cfg);

#endif
