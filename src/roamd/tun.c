/* TUN device and its link state. */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tun.h"

/* Link messages carry statistics and can exceed the 8 KiB libmnl suggests;
 * a truncated one would be lost. */
enum { NL_BUF_SIZE = 32768 };

static int set_mtu(const char *name, unsigned mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = (int)mtu;
	int ret = ioctl(s, SIOCSIFMTU, &ifr) < 0 ? -errno : 0;
	close(s);
	return ret;
}

/* Asks for our link's current state; the answer arrives like any event.
 * Needed once at start (the interface may already have been set up between
 * its creation and our subscription) and after lost events. */
static int request_link(struct tun *tun)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++tun->nl_seq;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)tun->ifindex;
	return mnl_socket_sendto(tun->nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/* What opening and adopting share: an empty tun named name, subscribed to
 * link events (before the interface exists, so no event about it is
 * missed). 0 or -errno, with err set and nothing left open. */
static int tun_begin(struct tun *tun, const char *name, char *err, size_t err_len)
{
	memset(tun, 0, sizeof(*tun));
	tun->fd = -1;
	snprintf(tun->name, sizeof(tun->name), "%s", name);
	tun->nl_buf = malloc(NL_BUF_SIZE);
	tun->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!tun->nl_buf || !tun->nl || mnl_socket_bind(tun->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno ? errno : ENOMEM;
		snprintf(err, err_len, "rtnetlink: %s", strerror(e));
		tun_close(tun);
		return -e;
	}
	return 0;
}

/* The interface's index, once it exists: 0 or -errno, with err set and
 * everything closed. */
static int find_index(struct tun *tun, const char *name, char *err, size_t err_len)
{
	tun->ifindex = if_nametoindex(name);
	if (tun->ifindex)
		return 0;
	int e = errno;
	snprintf(err, err_len, "interface %s vanished: %s", name, strerror(e));
	tun_close(tun);
	return -e;
}

int tun_open(struct tun *tun, const char *name, unsigned mtu, bool vnet, char *err, size_t err_len)
{
	int ret = tun_begin(tun, name, err, err_len);
	if (ret < 0)
		return ret;


	tun->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tun->fd < 0) {
		int e = errno;
		snprintf(err, err_len, "open /dev/net/tun: %s", strerror(e));
		tun_close(tun);
		return -e;
	}
	/* Raw IP packets without the 4-byte packet-info header. TUN_EXCL:
	 * never attach to an existing (persistent) device of the same name —
	 * two daemons must not share one interface. IFF_VNET_HDR puts a
	 * virtio-net header before every packet, which is what lets the
	 * kernel hand over unsegmented and unchecksummed super-packets
	 * (tun_set_offloads); it can only be chosen here, at creation. */
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL | (vnet ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(tun->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		if (e == EBUSY || e == EEXIST)
			snprintf(err, err_len, "interface %s already exists", name);
		else
			snprintf(err, err_len, "cannot create interface %s: %s", name, strerror(e));
		tun_close(tun);
		return -e;
	}
	tun->vnet = vnet;
	int found = find_index(tun, name, err, err_len);
	if (found < 0)
		return found;
	int e = set_mtu(name, mtu);
	if (e < 0) {
		snprintf(err, err_len, "set MTU %u on %s: %s", mtu, name, strerror(-e));
		tun_close(tun);
		return e;
	}
	e = request_link(tun);
	if (e < 0) {
		snprintf(err, err_len, "rtnetlink request: %s", strerror(-e));
		tun_close(tun);
		return e;
	}
	return 0;
}

int tun_adopt(struct tun *tun, int fd, const char *name, char *err, size_t err_len)
{
	int ret = tun_begin(tun, name, err, err_len);
	if (ret < 0)
		return ret;
	/* It must be the interface we were named after, a TUN without the
	 * packet-info header: the rest of roamd knows no other framing. */
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		int e = errno;
		snprintf(err, err_len, "WG_TUN_FD %d is not a TUN device: %s", fd, strerror(e));
		tun_close(tun);
		return -e;
	}
	if (strncmp(ifr.ifr_name, name, IFNAMSIZ) || (ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI)) != (IFF_TUN | IFF_NO_PI)) {
		snprintf(err, err_len, "WG_TUN_FD %d is %.16s (flags 0x%x), not a TUN %s with IFF_NO_PI", fd, ifr.ifr_name,
			 (unsigned)ifr.ifr_flags, name);
		tun_close(tun);
		return -EINVAL;
	}
	tun->fd = fd;
	tun->vnet = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
	int hdr = VNET_HDR_LEN, fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    (tun->vnet && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)) {
		int e = errno;
		snprintf(err, err_len, "WG_TUN_FD %d: %s", fd, strerror(e));
		tun_close(tun);
		return -e;
	}
	int found = find_index(tun, name, err, err_len);
	if (found < 0)
		return found;
	/* The MTU is the parent's choice (setting it needs CAP_NET_ADMIN);
	 * rtnetlink reports it like any later change. */
	int e = request_link(tun);
	if (e < 0) {
		snprintf(err, err_len, "rtnetlink request: %s", strerror(-e));
		tun_close(tun);
		return e;
	}
	return 0;
}

void tun_close(struct tun *tun)
{
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
	if (tun->nl)
		mnl_socket_close(tun->nl);
	tun->nl = NULL;
	free(tun->nl_buf);
	tun->nl_buf = NULL;
}

int tun_netlink_fd(const struct tun *tun)
{
	return mnl_socket_get_fd(tun->nl);
}

unsigned tun_set_offloads(struct tun *tun, unsigned want)
{
	if (!tun->vnet)
		want = 0;
	/* Newest first: a kernel refuses the whole set (EINVAL) if it does
	 * not know one bit, so fall back to older and older sets. USO needs
	 * Linux 6.2, TSO needs checksum offload to mean anything. */
	const unsigned sets[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM,
		0,
	};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		unsigned set = sets[i] & want;
		if (set != sets[i] && sets[i])
			continue;
		if (ioctl(tun->fd, TUNSETOFFLOAD, (unsigned long)set) == 0) {
			tun->offloads = set;
			return set;
		}
	}
	tun->offloads = 0;
	return 0;
}

ssize_t tun_read(struct tun *tun, struct vnet_hdr *h, uint8_t *buf, size_t cap)
{
	/* One plain read, the header landing in the headroom: a readv of
	 * two pieces costs an iovec import on every packet. */
	uint8_t *at = tun->vnet ? buf - VNET_HDR_LEN : buf;
	size_t want = tun->vnet ? cap + VNET_HDR_LEN : cap;
	memset(h, 0, sizeof(*h));
	for (;;) {
		ssize_t n = read(tun->fd, at, want);
		if (n >= 0) {
			if (!tun->vnet)
				return n;
			/* Only a header: nothing to do with it. */
			if (n < VNET_HDR_LEN)
				return 0;
			memcpy(h, at, VNET_HDR_LEN);
			return n - VNET_HDR_LEN;
		}
		if (errno != EINTR)
			return -errno;
	}
}

int tun_writev(struct tun *tun, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt)
{
	/* One more slot in front for the header. */
	struct iovec v[TUN_MAX_IOV + 1];
	if (iovcnt > TUN_MAX_IOV)
		return -EMSGSIZE;
	int n = 0;
	if (tun->vnet)
		v[n++] = (struct iovec){.iov_base = (void *)h, .iov_len = VNET_HDR_LEN};
	memcpy(v + n, iov, (size_t)iovcnt * sizeof(*iov));
	n += iovcnt;
	for (;;) {
		if (writev(tun->fd, v, n) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int tun_write(struct tun *tun, const uint8_t *buf, size_t len)
{
	static const struct vnet_hdr none;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return tun_writev(tun, &none, &iov, 1);
}

struct link_parse {
	struct tun *tun;
	struct link_state *st;
};

static int link_attr(const struct nlattr *attr, void *data)
{
	struct link_state *st = data;
	if (mnl_attr_get_type(attr) == IFLA_MTU && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		st->mtu = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int link_msg(const struct nlmsghdr *nlh, void *data)
{
	struct link_parse *lp = data;
	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return MNL_CB_OK;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	if ((unsigned)ifi->ifi_index != lp->tun->ifindex)
		return MNL_CB_OK;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		lp->st->gone = true;
		return MNL_CB_OK;
	}
	lp->st->up = ifi->ifi_flags & IFF_UP;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, lp->st);
	return MNL_CB_OK;
}

void tun_netlink_read(struct tun *tun, struct link_state *st)
{
	struct link_parse lp = {.tun = tun, .st = st};
	/* Bounded: a flood of link events from other interfaces must not
	 * starve the data path; epoll brings us back for the rest. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = mnl_socket_recvfrom(tun->nl, tun->nl_buf, NL_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped events: ask again. */
				request_link(tun);
				continue;
			}
			return;
		}
		/* seq/portid 0: accept events and our own requests' answers
		 * alike. An error answer (our link no longer exists) means
		 * the interface is gone. */
		if (mnl_cb_run(tun->nl_buf, (size_t)n, 0, 0, link_msg, &lp) < 0 && errno == ENODEV)
			st->gone = true;
	}
}
