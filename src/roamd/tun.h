/* The tunnel interface: a TUN device carrying raw IPv4/IPv6 packets, and an
 * rtnetlink watch on its link state (up/down, MTU, deletion). */
#ifndef ROAMD_TUN_H
#define ROAMD_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mnl_socket;

struct tun {
	int fd;			/* -1 when closed */
	unsigned ifindex;
	char name[IFNAMSIZ];
	struct mnl_socket *nl;	/* RTMGRP_LINK listener */
	uint32_t nl_seq;
	uint8_t *nl_buf;
};

/* What rtnetlink told us about our interface. */
struct link_state {
	bool up;
	unsigned mtu;
	bool gone;	/* deleted or moved to another namespace */
};

/* Creates the interface (it must not exist yet) with the given MTU, left
 * down, and starts watching it. 0 or -errno with a message in err. */
int tun_open(struct tun *tun, const char *name, unsigned mtu, char *err, size_t err_len);
/* Closing the last fd of a non-persistent TUN deletes the interface. */
void tun_close(struct tun *tun);
int tun_netlink_fd(const struct tun *tun);

/* One packet: its length, or -errno (-EAGAIN when none). -EBADFD means the
 * interface is gone. */
ssize_t tun_read(struct tun *tun, uint8_t *buf, size_t cap);
int tun_write(struct tun *tun, const uint8_t *buf, size_t len);

/* Drains pending rtnetlink messages into *st (which keeps its previous
 * values for anything not mentioned). */
void tun_netlink_read(struct tun *tun, struct link_state *st);

#endif
