/* Friendly names of peers, taken from comments in a wg-quick file the way
 * prometheus_wireguard_exporter (MindFlavor) takes them, so that a Grafana
 * dashboard built on its friendly_name label shows the same names:
 *
 *   [Peer]
 *   # friendly_name = Alice's phone
 *   PublicKey = ...
 *
 * The comment belongs to the [Peer] section it stands in (before or after
 * PublicKey); key and value are trimmed; other comments are ignored. The
 * parser is separate from config.c's, which drops comments on purpose. */
#ifndef ROAM_PEER_NAMES_H
#define ROAM_PEER_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "key_encoding.h"

struct peer_name {
	uint8_t public_key[KEY_LEN];
	char *name;
};

/* Sorted by public key, for peer_names_find. */
struct peer_names {
	struct peer_name *v;
	size_t n;
};

/* Reads path; 0, or -errno if it cannot be read. A section without a valid
 * PublicKey or without a name contributes nothing. */
int peer_names_read(const char *path, struct peer_names *out);
/* The same from text already in memory (len bytes). */
void peer_names_parse(const char *text, size_t len, struct peer_names *out);
/* The name of the peer with this key, or NULL. */
const char *peer_names_find(const struct peer_names *names, const uint8_t key[KEY_LEN]);
void peer_names_free(struct peer_names *names);

#endif
