/* roam doctor's readings of the host. */
#include "hostinfo.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include "run.h"
#include "uapi_contract.h"

int host_sysctl_int(const char *name, int *value)
{
	char path[256], buf[32];
	size_t i;
	FILE *f;
	int ok;

	if (snprintf(path, sizeof(path), "/proc/sys/%s", name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (i = strlen("/proc/sys/"); path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%d", value) == 1;
	fclose(f);
	return ok ? 0 : -EPROTO;
}

/* The socket inodes among pid's open files. */
static size_t socket_inodes(pid_t pid, unsigned long *inodes, size_t max)
{
	char dir[64], path[320], link[64];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(d);
	return n;
}

static void append_addr(char *buf, size_t len, const char *addr)
{
	size_t used = strlen(buf);

	if (strstr(buf, addr))
		return;
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", addr);
}

/* /proc/net/udp{,6}: "sl local_address rem_address st ... inode ...", the
 * address as the kernel's 32-bit words in hex, host byte order. */
static void scan_udp_table(const char *file, int family, uint16_t port, const unsigned long *inodes,
			   size_t n_inodes, struct host_udp_binds *out)
{
	char line[512], hex[40], text[INET6_ADDRSTRLEN];
	unsigned lport, st;
	unsigned long inode;
	FILE *f = fopen(file, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint32_t words[4];
		size_t nwords = family == AF_INET ? 1 : 4;

		if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %lu", hex, &lport, &st,
			   &inode) != 4 ||
		    lport != port || strlen(hex) != nwords * 8)
			continue;
		for (size_t w = 0; w < nwords; w++) {
			char word[9];

			memcpy(word, hex + w * 8, 8);
			word[8] = '\0';
			words[w] = (uint32_t)strtoul(word, NULL, 16);
		}
		inet_ntop(family, words, text, sizeof(text));
		out->sockets++;
		for (size_t i = 0; i < n_inodes; i++)
			if (inodes[i] == inode) {
				out->owned++;
				break;
			}
		append_addr(out->addrs, sizeof(out->addrs), text);
	}
	fclose(f);
}

int host_udp_binds(uint16_t port, pid_t pid, struct host_udp_binds *out)
{
	unsigned long inodes[256];
	size_t n = pid > 0 ? socket_inodes(pid, inodes, 256) : 0;

	memset(out, 0, sizeof(*out));
	if (access("/proc/net/udp", R_OK) < 0)
		return -errno;
	scan_udp_table("/proc/net/udp", AF_INET, port, inodes, n, out);
	scan_udp_table("/proc/net/udp6", AF_INET6, port, inodes, n, out);
	return 0;
}

/* Does the rule's output-interface match ("oifname \"eth0\"", "oif eth0",
 * "oifname \"eth*\"") take in egress? A rule without one takes in all. */
static bool rule_takes_oif(const char *rule, const char *egress)
{
	const char *m = strstr(rule, "oifname ");
	char name[64];
	size_t n = 0;

	if (!m)
		m = strstr(rule, "oif ");
	if (!m || !egress || !*egress)
		return true;
	m = strchr(m, ' ') + 1;
	if (!strncmp(m, "!= ", 3) || *m == '{')
		return true;	/* a negation or a set: too rare to read closely */
	if (*m == '"')
		m++;
	while (m[n] && m[n] != '"' && m[n] != ' ' && n + 1 < sizeof(name)) {
		name[n] = m[n];
		n++;
	}
	name[n] = '\0';
	if (n && name[n - 1] == '*')
		return !strncmp(name, egress, n - 1);
	return !strcmp(name, egress);
}

/* Does the rule's source match ("ip saddr 10.8.0.0/24", "ip6 saddr
 * fd00::/64") take in one of the clients? Only a single prefix is read:
 * a set, a negation, a range or a family none of the clients has counts
 * as taking them in, so doctor never blames a rule it did not understand. */
static bool rule_takes_clients(const char *rule, const struct ip_prefix *clients, size_t n)
{
	const char *m = strstr(rule, "ip saddr ");
	int family = AF_INET;
	struct ip_prefix source;
	char word[64];
	bool same_family = false;

	if (!m) {
		m = strstr(rule, "ip6 saddr ");
		family = AF_INET6;
	}
	if (!m || !clients)
		return true;
	m = strstr(m, "saddr ") + strlen("saddr ");
	if (sscanf(m, "%63s", word) != 1 || !ip_prefix_parse(&source, word, true) || source.family != family)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (clients[i].family != family)
			continue;
		same_family = true;
		if (ip_prefix_contains(&source, &clients[i]))
			return true;
	}
	return !same_family;
}

int ruleset_find_source_nat(const char *ruleset, const char *egress, const struct ip_prefix *clients, size_t n,
			    char *rule, size_t len)
{
	const char *line = ruleset;
	char buf[512];
	int found = 0;

	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		/* "masquerade" and "snat to" are the statements; a chain or
		 * table merely named so has a '{' or no statement form. */
		if ((strstr(buf, "masquerade") || strstr(buf, "snat to") || strstr(buf, "snat ip")) &&
		    !strchr(buf, '{')) {
			char *s = buf;
			bool out = rule_takes_oif(buf, egress), takes = out && rule_takes_clients(buf, clients, n);

			while (*s == ' ' || *s == '\t')
				s++;
			/* The rule quoted is the one that came closest. */
			if (takes || !found || (out && found == 2))
				snprintf(rule, len, "%s", s);
			if (takes)
				return 1;
			found = out ? 3 : found ? found : 2;
		}
	}
	return found;
}

bool ruleset_find_port_redirect(const char *ruleset, uint16_t port, char *rule, size_t len)
{
	const char *line = ruleset;
	char buf[512], dport[24];

	snprintf(dport, sizeof(dport), "dport %u", port);
	while (ruleset_next_line(&line, buf, sizeof(buf))) {
		const char *m = strstr(buf, dport), *s = buf;

		/* "dport 51820" and not "dport 518200"; a set ("dport { ... }")
		 * is not read. */
		if (!m || (m[strlen(dport)] && m[strlen(dport)] != ' ') || strchr(buf, '{'))
			continue;
		if (!strstr(buf, "dnat ") && !strstr(buf, "redirect"))
			continue;
		while (*s == ' ' || *s == '\t')
			s++;
		snprintf(rule, len, "%s", s);
		return true;
	}
	return false;
}

bool ruleset_next_line(const char **cursor, char *buf, size_t len)
{
	const char *line = *cursor;
	if (!line || !*line)
		return false;
	const char *end = strchrnul(line, '\n');
	size_t n = (size_t)(end - line);
	if (n >= len)
		n = len - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	*cursor = *end ? end + 1 : NULL;
	return true;
}

int host_nft_ruleset(char **out)
{
	char nft[256];
	size_t n;
	int status;

	*out = NULL;
	if (!run_find_program("nft", nft, sizeof(nft)))
		return -ENOENT;
	status = run_capture((char *const[]){ nft, "list", "ruleset", NULL }, out, &n);
	if (status < 0)
		return status;
	if (status != 0) {
		free(*out);
		*out = NULL;
		return -EPERM;
	}
	return 0;
}

int host_link_flags(const char *ifname, unsigned *flags)
{
	struct ifreq ifr;
	int fd, err = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	else
		*flags = (unsigned)(unsigned short)ifr.ifr_flags;
	close(fd);
	return err;
}

int host_clock_synced(bool *synced, long *max_error_us)
{
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	if (state < 0)
		return -errno;
	*synced = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
	*max_error_us = tx.maxerror;
	return 0;
}

void host_process_name(pid_t pid, char *name, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	snprintf(name, len, "?");
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(name, (int)len, f))
		name[strcspn(name, "\n")] = '\0';
	fclose(f);
}

/* /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path"; a
 * listening socket has __SO_ACCEPTCON (0x10000) in its flags. */
static unsigned long listening_unix_inode(const char *path)
{
	char line[512], name[256];
	unsigned long flags, inode, found = 0;
	FILE *f = fopen("/proc/net/unix", "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %255s", &flags, &inode, name) == 3 &&
		    (flags & 0x10000) && !strcmp(name, path))
			found = inode;
	fclose(f);
	return found;
}

size_t host_socket_holders(const char *path, pid_t *pids, size_t max)
{
	unsigned long want = listening_unix_inode(path), inodes[256];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if (!want || !(d = opendir("/proc")))
		return 0;
	while ((e = readdir(d)) && n < max) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		size_t k = socket_inodes((pid_t)pid, inodes, 256);
		for (size_t i = 0; i < k; i++)
			if (inodes[i] == want) {
				pids[n++] = (pid_t)pid;
				break;
			}
	}
	closedir(d);
	return n;
}

int host_address_is_local(const char *address)
{
	struct ip_prefix want, have;
	struct ifaddrs *list, *a;
	int local = 0;

	if (!ip_prefix_parse(&want, address, true))
		return -EINVAL;
	if (getifaddrs(&list))
		return -errno;
	for (a = list; a && !local; a = a->ifa_next) {
		if (!a->ifa_addr || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
			continue;
		have.family = a->ifa_addr->sa_family;
		have.cidr = have.family == AF_INET ? 32 : 128;
		memset(have.addr, 0, sizeof(have.addr));
		if (have.family == AF_INET)
			memcpy(have.addr, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4);
		else
			memcpy(have.addr, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16);
		local = ip_prefix_equal(&want, &have);
	}
	freeifaddrs(list);
	return local;
}

bool host_link_is_tunnel(const char *ifname, char *kind, size_t len)
{
	char path[128], line[64], sock[160] = "";
	bool wireguard = false, tun;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", ifname);
	tun = access(path, F_OK) == 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/uevent", ifname);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		wireguard |= !strcmp(line, "DEVTYPE=wireguard\n");
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), UAPI_SOCKET_DIR "/%s.sock", ifname);
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		snprintf(sock, sizeof(sock), "a UAPI socket %s", path);
	snprintf(kind, len, "%s%s%s", wireguard ? "a WireGuard device" : tun ? "a tun device" : "",
		 (wireguard || tun) && sock[0] ? " with " : "", sock);
	return wireguard || tun || sock[0];
}
