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
#define MCAST_UNIX_RX_RING	8	/* struct mcast_unix_ring_req: receive into a mapped ring */

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

/*
 * Receive ring (MCAST_UNIX_RX_RING).  A socket given a ring receives every
 * message (group copies, unicast, SEND_TO_PEER copies) into frames of a
 * buffer it maps with mmap(NULL, MCAST_UNIX_RING_SIZE(req) rounded up to the
 * page size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), instead of its
 * receive queue: reading a message takes no system call.  Set once, while
 * the receive queue is empty; it lasts as long as the socket, the mapping
 * as long as it is mapped.  The ring's bytes count against SO_RCVBUF (at
 * most that many, ENOBUFS otherwise).
 *
 * The kernel fills frames in order, each only when its status is
 * MCAST_UNIX_FRAME_KERNEL, and hands it over by setting the status to
 * MCAST_UNIX_FRAME_USER (a release store: the frame is complete when the
 * status reads USER with an acquire load).  The reader takes frames in the
 * same order and gives each back by storing MCAST_UNIX_FRAME_KERNEL.  A
 * frame still USER where the kernel would write next means the ring is full:
 * a DROP_WHEN_FULL member loses the message (counted: `drops`), any other
 * sender waits (or gets EAGAIN) as for a full receive queue.  A sender that
 * waits sets `writers_waiting`; a reader that gave frames back and sees it
 * set calls poll() on the socket (timeout 0 will do), which wakes them.
 * poll() reports POLLIN while the frame last filled is USER; recvmsg() on a
 * ring socket fails with EOPNOTSUPP.
 */
struct mcast_unix_ring_req {
	__u32 frame_size;	/* multiple of 64, 256 .. 65536 */
	__u32 frame_count;	/* 1 .. 65536 */
};

/* The start of the mapping. */
struct mcast_unix_ring_hdr {
	__u32 version;		/* MCAST_UNIX_RING_VERSION */
	__u32 frame_size;
	__u32 frame_count;
	__u32 frames_offset;	/* of frame 0, from the start of the mapping */
	__u32 writers_waiting;	/* set by the kernel, see above */
	__u32 reserved[11];
};

#define MCAST_UNIX_RING_VERSION	1
#define MCAST_UNIX_RING_HDRLEN	64	/* == sizeof(struct mcast_unix_ring_hdr) */
#define MCAST_UNIX_RING_SIZE(req) \
	(MCAST_UNIX_RING_HDRLEN + (__u64)(req).frame_size * (req).frame_count)

/* One frame: this header, then the message's first `snaplen` bytes at
 * MCAST_UNIX_FRAME_DATA. */
struct mcast_unix_frame {
	__u32 status;		/* MCAST_UNIX_FRAME_KERNEL or _USER */
	__u32 flags;		/* MCAST_UNIX_FRAME_* below */
	__u32 len;		/* the message's length (what recv would return with MSG_TRUNC) */
	__u32 snaplen;		/* bytes of it in the frame */
	__u64 sender_id;	/* with MCAST_UNIX_PASS_SENDER_ID, else 0 */
	__u32 drops;		/* the socket's drop count so far (as SO_RXQ_OVFL) */
	__s32 pid;		/* with FRAME_CREDS, in the ring creator's pid namespace */
	__u32 uid;		/* with FRAME_CREDS, in the ring creator's user namespace */
	__u32 gid;
	__u32 addr_len;		/* bytes of `addr` (as recvfrom's address length; 0: unbound) */
	__u32 reserved;
	struct sockaddr_un addr;	/* the sender's address */
};

#define MCAST_UNIX_FRAME_DATA	160	/* == sizeof(struct mcast_unix_frame) */

/* Frame status. */
#define MCAST_UNIX_FRAME_KERNEL	0
#define MCAST_UNIX_FRAME_USER	1

/* Frame flags. */
#define MCAST_UNIX_FRAME_TRUNC	(1U << 0) /* snaplen < len: the frame was too small */
#define MCAST_UNIX_FRAME_CTRUNC	(1U << 1) /* descriptors it carried were not passed (closed) */
#define MCAST_UNIX_FRAME_CREDS	(1U << 2) /* pid/uid/gid are set (SO_PASSCRED) */
#define MCAST_UNIX_FRAME_EMPTY	(1U << 3) /* no message: give it back (reserved, not set yet) */

#endif /* _UAPI_LINUX_MCAST_UNIX_H */
