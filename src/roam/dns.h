/* DNS = ... of a wg-quick file (docs/protocol.md §8.2): handed to resolvconf as
 * wg-quick does, or to systemd-resolved through resolvectl where that is
 * what the system has. */
#ifndef ROAM_DNS_H
#define ROAM_DNS_H

#include <stdbool.h>

struct config_interface;

enum dns_method {
	DNS_NONE,
	DNS_RESOLVCONF,		/* resolvconf -a tun.IF -m 0 -x; undone by -d tun.IF -f */
	DNS_RESOLVECTL,		/* resolvectl dns/domain IF; undone by revert IF */
};

const char *dns_method_name(enum dns_method method);
bool dns_method_parse(const char *name, enum dns_method *method);

/* Which one this system has: a real resolvconf first (wg-quick's choice),
 * then resolvectl (also when resolvconf is only systemd's stand-in for
 * it); DNS_NONE if neither. */
enum dns_method dns_method_available(void);

/* Registers in's nameservers and search domains. A full tunnel also sends
 * every query there (resolvectl's "~." domain; resolvconf's -x already
 * makes the entry exclusive). 0 or -1 (the tool said why on stderr). */
int dns_register(enum dns_method method, const char *ifname, const struct config_interface *in, bool full_tunnel);
int dns_unregister(enum dns_method method, const char *ifname);

#endif
