/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mcast_unix: multicast Unix-domain sockets.
 *
 * Userspace: include <sys/socket.h> and <sys/un.h> before this header (the C
 * library's struct sockaddr_un is then used); on its own the header takes the
 * kernel's <linux/un.h>.
 */
#ifndef _UAPI_LINUX_MCAST_UNIX_H
#define _UAPI_LINUX_MCAST_UNIX_H

#include <linux/types.h>
#ifndef _SYS_UN_H
#include <linux/un.h>
#endif

/*
 * Address family.  13 was reserved for AF_NETBEUI, which Linux never
 * implemented: it is below AF_MAX (46 in 6.12), so the socket layer accepts it,
 * and no 6.12 code registers it.  Override at load time with family=N.
 */
#define AF_MCAST_UNIX		13
#define PF_MCAST_UNIX		AF_MCAST_UNIX

/* setsockopt()/getsockopt() level of the options below. */
#define SOL_MCAST_UNIX		290

/* Options (level SOL_MCAST_UNIX). */
#define MCAST_UNIX_CREATE_GROUP	1	/* struct mcast_unix_mreq, flags == 0 */
#define MCAST_UNIX_JOIN_GROUP	2	/* struct mcast_unix_mreq */
#define MCAST_UNIX_LEAVE_GROUP	3	/* struct mcast_unix_mreq */
#define MCAST_UNIX_ADMIT_MEMBER	4	/* __u32 flags, on an accepted socket */
#define MCAST_UNIX_PEER_FILTER	5	/* struct sock_fprog, on an accepted socket */
#define MCAST_UNIX_PASS_SENDER_ID 6	/* int, 0 or 1: receive MCAST_UNIX_SENDER_ID */
#define MCAST_UNIX_PEER_ID	7	/* getsockopt only, __u64: the peer's id */

/*
 * Sender identity.  Every socket of the family has an id unique for the boot:
 * its socket cookie, the value getsockopt(SOL_SOCKET, SO_COOKIE) gives its
 * owner.  The kernel stamps each message with the id of the socket that sent
 * it; a receiver that set MCAST_UNIX_PASS_SENDER_ID gets it with every
 * message as ancillary data of level SOL_MCAST_UNIX and type
 * MCAST_UNIX_SENDER_ID (a __u64).  No sender can choose it (ancillary data of
 * this level given to sendmsg is ignored).  MCAST_UNIX_PEER_ID gives the id
 * of a connected socket's peer: on a seqpacket group owner's accepted
 * connection, the id its client's messages carry.
 */
#define MCAST_UNIX_SENDER_ID	MCAST_UNIX_PASS_SENDER_ID

/* Membership flags (mcast_unix_mreq.flags, MCAST_UNIX_ADMIT_MEMBER). */
#define MCAST_UNIX_LOOPBACK		(1U << 0) /* receive own group messages */
#define MCAST_UNIX_SEND_TO_PEER		(1U << 1) /* owner's accepted socket gets a copy */
#define MCAST_UNIX_DROP_WHEN_FULL	(1U << 2) /* drop and count instead of blocking */
#define MCAST_UNIX_FLAGS_ALL	(MCAST_UNIX_LOOPBACK | MCAST_UNIX_SEND_TO_PEER | \
				 MCAST_UNIX_DROP_WHEN_FULL)

struct mcast_unix_mreq {
	struct sockaddr_un address;	/* sun_family = AF_MCAST_UNIX */
	__u32 address_len;		/* as the addrlen of bind()/connect() */
	__u32 flags;			/* MCAST_UNIX_* flags */
};

#endif /* _UAPI_LINUX_MCAST_UNIX_H */
