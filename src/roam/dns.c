/* Registering and unregistering an interface's DNS settings. */
#include "dns.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "run.h"

static const char *const names[] = {
	[DNS_NONE] = "none",
	[DNS_RESOLVCONF] = "resolvconf",
	[DNS_RESOLVECTL] = "resolvectl",
};

const char *dns_method_name(enum dns_method method)
{
	return names[method];
}

bool dns_method_parse(const char *name, enum dns_method *method)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i])) {
			*method = (enum dns_method)i;
			return true;
		}
	}
	return false;
}

enum dns_method dns_method_available(void)
{
	char path[PATH_MAX], *real;
	bool stand_in;

	if (run_find_program("resolvconf", path, sizeof(path))) {
		/* systemd ships resolvconf as a link to resolvectl, which does
		 * not know resolvconf's interface-order prefixes ("tun."):
		 * talk to resolvectl directly then. */
		real = realpath(path, NULL);
		stand_in = real && strstr(real, "resolvectl") != NULL;
		free(real);
		if (!stand_in)
			return DNS_RESOLVCONF;
	}
	if (run_find_program("resolvectl", path, sizeof(path)))
		return DNS_RESOLVECTL;
	return DNS_NONE;
}

/* resolvconf's name for the interface: "tun." puts it with the other
 * tunnels in /etc/resolvconf/interface-order, ahead of the real links. */
static void resolvconf_name(char *buf, size_t len, const char *ifname)
{
	snprintf(buf, len, "tun.%s", ifname);
}

static int via_resolvconf(const char *ifname, const struct config_interface *in)
{
	char name[64], a[IP_PREFIX_STRLEN], *text = NULL;
	size_t len = 0;
	bool search = false;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (!f)
		return -1;
	for (size_t i = 0; i < in->n_dns; i++)
		if (in->dns[i].is_addr)
			fprintf(f, "nameserver %s\n", ip_addr_str(&in->dns[i].addr, a));
	for (size_t i = 0; i < in->n_dns; i++) {
		if (!in->dns[i].is_addr) {
			fprintf(f, "%s%s", search ? " " : "search ", in->dns[i].domain);
			search = true;
		}
	}
	if (search)
		fputc('\n', f);
	fclose(f);
	resolvconf_name(name, sizeof(name), ifname);
	run_say("resolvconf -a %s -m 0 -x", name);
	ret = run_command((char *const[]){ "resolvconf", "-a", name, "-m", "0", "-x", NULL }, text);
	free(text);
	return ret ? -1 : 0;
}

/* resolvectl VERB IFNAME ARGS...; the argument vector is built on the heap
 * because a file may list any number of servers. */
static int resolvectl(const char *verb, const char *ifname, const struct config_interface *in, bool addrs,
		      bool catch_all)
{
	char **argv = xrealloc(NULL, (in->n_dns + 5) * sizeof(*argv));
	char (*a)[IP_PREFIX_STRLEN] = xrealloc(NULL, (in->n_dns + 1) * sizeof(*a));
	size_t n = 0;
	int ret;

	argv[n++] = "resolvectl";
	argv[n++] = (char *)verb;
	argv[n++] = (char *)ifname;
	for (size_t i = 0; i < in->n_dns; i++) {
		if (addrs && in->dns[i].is_addr)
			argv[n++] = (char *)ip_addr_str(&in->dns[i].addr, a[i]);
		else if (!addrs && !in->dns[i].is_addr)
			argv[n++] = in->dns[i].domain;
	}
	if (catch_all)
		argv[n++] = "~.";
	argv[n] = NULL;
	ret = 0;
	if (n > 3) {
		fputs("[#]", stderr);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %s", argv[i]);
		fputc('\n', stderr);
		ret = run_command(argv, NULL) ? -1 : 0;
	}
	free(argv);
	free(a);
	return ret;
}

int dns_register(enum dns_method method, const char *ifname, const struct config_interface *in, bool full_tunnel)
{
	switch (method) {
	case DNS_RESOLVCONF:
		return via_resolvconf(ifname, in);
	case DNS_RESOLVECTL:
		if (resolvectl("dns", ifname, in, true, false) < 0)
			return -1;
		return resolvectl("domain", ifname, in, false, full_tunnel);
	case DNS_NONE:
		break;
	}
	return 0;
}

int dns_unregister(enum dns_method method, const char *ifname)
{
	char name[64];

	switch (method) {
	case DNS_RESOLVCONF:
		resolvconf_name(name, sizeof(name), ifname);
		run_say("resolvconf -d %s -f", name);
		return run_command((char *const[]){ "resolvconf", "-d", name, "-f", NULL }, NULL) ? -1 : 0;
	case DNS_RESOLVECTL:
		run_say("resolvectl revert %s", ifname);
		return run_command((char *const[]){ "resolvectl", "revert", (char *)ifname, NULL }, NULL) ? -1 : 0;
	case DNS_NONE:
		break;
	}
	return 0;
}
