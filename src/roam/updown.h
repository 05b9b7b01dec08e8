/* What roam up (up.c) and roam down (down.c) share: how an argument names
 * an interface and its file, and undoing a ledger (state.h), which down
 * does on request and up does when it fails half-way. */
#ifndef ROAM_UPDOWN_H
#define ROAM_UPDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"

/* CONFIG|IFNAME as wg-quick takes it (docs/protocol.md §8.2): an argument with
 * a '/' or ending in ".conf" is a file, naming the interface by its base
 * name less ".conf"; anything else is an interface name, whose file is
 * /etc/wireguard/IFNAME.conf. Names must match [a-zA-Z0-9_=+.-]{1,15} and
 * be interface names (not . or ..).
 * *config gets a malloc'd path; false with the reason in err. */
bool updown_target(const char *arg, char ifname[UAPI_IFNAME_MAX], char **config, char *err, size_t err_len);

/* Undoes what st records, newest first, as far as possible. Whatever is
 * already gone (roamd killed, its interface with it) counts as undone.
 * Returns how many things could not be undone (each said on stderr). */
int updown_teardown(const struct roam_state *st);

/* `roam down IFNAME` after its arguments: PreDown hooks, the ledger
 * undone, PostDown hooks, the ledger removed. Messages start with who
 * ("roam down"). Returns the exit status: 0, or 1 (said why). */
int updown_take_down(const char *ifname, const char *who);

#endif
