// SPDX-License-Identifier: GPL-2.0
/* Filters at fan-out. Messages start with a 32-bit topic hash (native byte
 * order). A subscriber keeps only topic 42 with its own socket filter; the
 * bus owner limits what another member may receive with a peer filter. */
#include "common.h"
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <linux/filter.h>
#include "common.h"

int main(void)
{
	int family = mcast_family();
	/* Classic BPF loads words big-endian: compare with htonl(42) read back
	 * in host order, i.e. the bytes of a native 42 seen big-endian. */
	__u32 key = ntohl(42);
	struct sock_filter topic42[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, key, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),	/* keep the whole message */
		BPF_STMT(BPF_RET | BPF_K, 0),		/* drop */
	};
	struct sock_fprog prog = { 4, topic42 };
	struct mcast_unix_mreq mreq = { 0 };
	int owner, pub, sub, bus, client[2], conn[2], i, queued;
	__u32 msg[2] = { 7, 0 }, flags = 0;
	char buf[64];

	/* Datagram group, the subscriber's own filter. */
	mreq.address_len = abstract_addr(&mreq.address, family, "example-topics");
	owner = socket(family, SOCK_DGRAM, 0);
	CHECK(setsockopt(owner, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, &mreq, sizeof(mreq)));
	sub = socket(family, SOCK_DGRAM, 0);
	CHECK(setsockopt(sub, SOL_MCAST_UNIX, MCAST_UNIX_JOIN_GROUP, &mreq, sizeof(mreq)));
	CHECK(setsockopt(sub, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
	pub = socket(family, SOCK_DGRAM, 0);
	CHECK(sendto(pub, msg, sizeof(msg), 0, (struct sockaddr *)&mreq.address, mreq.address_len));
	CHECK(ioctl(sub, FIONREAD, &queued));
	if (queued != 0)	/* topic 7 was filtered out before it was queued */
		return 1;
	msg[0] = 42;
	CHECK(sendto(pub, msg, sizeof(msg), 0, (struct sockaddr *)&mreq.address, mreq.address_len));
	if (recv(sub, buf, sizeof(buf), MSG_DONTWAIT) != sizeof(msg))
		return 1;

	/* Seqpacket group, the owner's peer filter on member 1. */
	mreq.address_len = abstract_addr(&mreq.address, family, "example-filtered-bus");
	bus = socket(family, SOCK_SEQPACKET, 0);
	CHECK(setsockopt(bus, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, &mreq, sizeof(mreq)));
	CHECK(listen(bus, 4));
	for (i = 0; i < 2; i++) {
		client[i] = socket(family, SOCK_SEQPACKET, 0);
		CHECK(connect(client[i], (struct sockaddr *)&mreq.address, mreq.address_len));
		CHECK(conn[i] = accept(bus, NULL, NULL));
		if (i == 1)
			CHECK(setsockopt(conn[i], SOL_MCAST_UNIX, MCAST_UNIX_PEER_FILTER, &prog, sizeof(prog)));
		CHECK(setsockopt(conn[i], SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, &flags, sizeof(flags)));
	}
	msg[0] = 7;
	CHECK(send(client[0], msg, sizeof(msg), 0));
	msg[0] = 42;
	CHECK(send(client[0], msg, sizeof(msg), 0));
	if (recv(client[1], buf, sizeof(buf), MSG_DONTWAIT) != sizeof(msg) || ((__u32 *)buf)[0] != 42)
		return 1;
	if (recv(client[1], buf, sizeof(buf), MSG_DONTWAIT) >= 0)	/* topic 7 never came */
		return 1;
	printf("1..1\nok 1 - example: filters\n");
	return 0;
}
