/* The UAPI listening socket /var/run/wireguard/IFNAME.sock (docs/protocol.md
 * §7.1), and noticing when someone deletes it. */
#ifndef ROAMD_IPC_SOCKET_H
#define ROAMD_IPC_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

#include "uapi_contract.h"

struct ipc_socket {
	int fd;			/* listening, non-blocking; -1 when closed */
	int inotify_fd;		/* watch on the socket file; -1 if none */
	char path[UAPI_SOCKET_PATH_MAX];
	dev_t dev;		/* identity of the file we bound, so we never */
	ino_t ino;		/* unlink a successor's socket */
};

/* mkdir 0755, bind with umask 077 (socket 0700), replacing a stale socket
 * nobody answers on. 0 or -errno with a message in err ("unix socket in
 * use" if another daemon answers). */
int ipc_socket_open(struct ipc_socket *ipc, const char *ifname, char *err, size_t err_len);
/* Takes over a listening socket a privileged parent bound (WG_UAPI_FD). If
 * UAPI_SOCKET_DIR/IFNAME.sock is a socket it is watched as ours (its
 * deletion ends roamd); else path is "" and nothing is watched. */
int ipc_socket_adopt(struct ipc_socket *ipc, int fd, const char *ifname, char *err, size_t err_len);
/* Closes and unlinks the socket file if it is still ours. */
void ipc_socket_close(struct ipc_socket *ipc);
/* After an inotify event: is the path still our socket? */
bool ipc_socket_still_ours(struct ipc_socket *ipc);

#endif
