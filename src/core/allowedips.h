/* Cryptokey routing: one longest-prefix-match table for IPv4 and IPv6
 * (docs/protocol.md §6). A prefix maps to exactly one owner (a peer); inserting
 * an existing prefix moves it to the new owner. Each owner keeps the list of
 * its prefixes so they can be walked or removed without scanning the table.
 *
 * The table knows nothing of peers: an owner is an opaque pointer plus the
 * list head it embeds. */
#ifndef ROAM_ALLOWEDIPS_H
#define ROAM_ALLOWEDIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct allowedips_node;

/* Embedded in every owner; zero-initialised means "no prefixes". */
struct allowedips_owner {
	struct allowedips_node *first;
	size_t count;
};

struct allowedips {
	struct allowedips_node *root4;
	struct allowedips_node *root6;
	size_t count;
};

void allowedips_init(struct allowedips *table);
/* Frees every node; owners' lists are left dangling, so callers reset them. */
void allowedips_free(struct allowedips *table);

/* family is AF_INET (addr is 4 bytes, cidr <= 32) or AF_INET6 (16 bytes,
 * cidr <= 128). Host bits beyond cidr are cleared. Returns 0, -EINVAL for a
 * bad family/cidr, or -ENOMEM. */
int allowedips_insert(struct allowedips *table, int family, const uint8_t *addr, uint8_t cidr,
		      void *owner, struct allowedips_owner *list);

/* Removes the exact prefix if, and only if, owner holds it. Returns true if
 * something was removed. */
bool allowedips_remove(struct allowedips *table, int family, const uint8_t *addr, uint8_t cidr,
		       void *owner, struct allowedips_owner *list);

/* Removes all of one owner's prefixes. */
void allowedips_remove_by_owner(struct allowedips *table, struct allowedips_owner *list);

/* Longest-prefix match; the owner, or NULL. Used with the destination of an
 * outgoing packet and with the source of a decrypted incoming one. */
void *allowedips_lookup(const struct allowedips *table, int family, const uint8_t *addr);

/* Calls fn for each prefix of one owner, in insertion order, with the
 * masked address (4 or 16 bytes). Stops early if fn returns false. */
typedef bool (*allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
void allowedips_walk_owner(const struct allowedips_owner *list, allowedips_walk_fn fn, void *ctx);

#endif
