/* The tunnel interface: a TUN device carrying raw IPv4/IPv6 packets, and an
 * rtnetlink watch on its link state (up/down, MTU, deletion). */
#ifndef ROAMD_TUN_H
#define ROAMD_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "offload.h"

/* Linux 6.2's UDP segmentation offload bits, missing from older headers. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

struct mnl_socket;

struct tun {
	int fd;			/* -1 when closed */
	unsigned ifindex;
	char name[IFNAMSIZ];
	struct mnl_socket *nl;	/* RTMGRP_LINK listener */
	uint32_t nl_seq;
	uint8_t *nl_buf;
	bool vnet;		/* IFF_VNET_HDR: a struct vnet_hdr with each packet */
	unsigned offloads;	/* the TUN_F_* the kernel accepted */
};

enum { TUN_MAX_IOV = 128 };

/* What rtnetlink told us about our interface. */
struct link_state {
	bool up;
	unsigned mtu;
	bool gone;	/* deleted or moved to another namespace */
};

/* Creates the interface (it must not exist yet) with the given MTU, left
 * down, and starts watching it; vnet asks for IFF_VNET_HDR. 0 or -errno
 * with a message in err. */
int tun_open(struct tun *tun, const char *name, unsigned mtu, bool vnet, char *err, size_t err_len);
/* Takes over a TUN fd a privileged parent opened (WG_TUN_FD): it must be
 * the TUN named name, IFF_NO_PI; IFF_VNET_HDR is used if it has it. Its
 * MTU is left as it is. 0 or -errno with a message in err. */
int tun_adopt(struct tun *tun, int fd, const char *name, char *err, size_t err_len);
/* Offers the kernel the TUN_F_* offloads in want (only with vnet), falling
 * back to smaller sets it accepts; returns what is in force. */
unsigned tun_set_offloads(struct tun *tun, unsigned want);
/* Closing the last fd of a non-persistent TUN deletes the interface. */
void tun_close(struct tun *tun);
int tun_netlink_fd(const struct tun *tun);

/* One packet (with vnet, its header in *h; else *h is zeroed): its
 * length, or -errno (-EAGAIN when none). -EBADFD means the interface is
 * gone. buf must have VNET_HDR_LEN bytes of headroom in front of it,
 * which the read overwrites. */
ssize_t tun_read(struct tun *tun, struct vnet_hdr *h, uint8_t *buf, size_t cap);
/* One packet made of iovcnt (<= TUN_MAX_IOV) pieces; h is sent only with
 * vnet. tun_write: one plain packet (a zero header if vnet). 0 or -errno. */
int tun_writev(struct tun *tun, const struct vnet_hdr *h, const struct iovec *iov, int iovcnt);
int tun_write(struct tun *tun, const uint8_t *buf, size_t len);

/* Drains pending rtnetlink messages into *st (which keeps its previous
 * values for anything not mentioned). */
void tun_netlink_read(struct tun *tun, struct link_state *st);

#endif
