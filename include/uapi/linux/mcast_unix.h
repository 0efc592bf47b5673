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
