// SPDX-License-Identifier: GPL-2.0
/* Sender identity: a bus owner learns the id of each connection it accepts
 * (MCAST_UNIX_PEER_ID); members that ask (MCAST_UNIX_PASS_SENDER_ID) get the
 * id of the socket each message came from, stamped by the kernel, and can map
 * it to the sender without asking the owner for every message. */
#include "common.h"
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

/* Receives one message on fd; returns the sender id it carried (0: none). */
static uint64_t recv_sender_id(int fd, char *buf, size_t len)
{
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(uint64_t))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.space, .msg_controllen = sizeof(control.space),
	};
	struct cmsghdr *c;
	uint64_t id = 0;

	CHECK(recvmsg(fd, &msg, 0));
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_MCAST_UNIX && c->cmsg_type == MCAST_UNIX_SENDER_ID)
			memcpy(&id, CMSG_DATA(c), sizeof(id));
	return id;
}

int main(void)
{
	int family = mcast_family();
	struct mcast_unix_mreq mreq = { 0 };
	int owner, alice, bob, conn_alice, conn_bob, on = 1;
	uint64_t alice_id, alice_own_id, got;
	socklen_t len;
	__u32 flags = 0;
	char buf[64];

	mreq.address_len = abstract_addr(&mreq.address, family, "example-ids");
	owner = socket(family, SOCK_SEQPACKET, 0);
	CHECK(setsockopt(owner, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, &mreq, sizeof(mreq)));
	CHECK(listen(owner, 8));

	alice = socket(family, SOCK_SEQPACKET, 0);
	bob = socket(family, SOCK_SEQPACKET, 0);
	CHECK(connect(alice, (struct sockaddr *)&mreq.address, mreq.address_len));
	CHECK(conn_alice = accept(owner, NULL, NULL));
	CHECK(connect(bob, (struct sockaddr *)&mreq.address, mreq.address_len));
	CHECK(conn_bob = accept(owner, NULL, NULL));

	/* The owner records who each connection is (a bus: its unique name). */
	len = sizeof(alice_id);
	CHECK(getsockopt(conn_alice, SOL_MCAST_UNIX, MCAST_UNIX_PEER_ID, &alice_id, &len));
	CHECK(setsockopt(conn_alice, SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, &flags, sizeof(flags)));
	CHECK(setsockopt(conn_bob, SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, &flags, sizeof(flags)));

	/* Bob wants to know who sent what. */
	CHECK(setsockopt(bob, SOL_MCAST_UNIX, MCAST_UNIX_PASS_SENDER_ID, &on, sizeof(on)));
	CHECK(send(alice, "hello", 5, 0));
	got = recv_sender_id(bob, buf, sizeof(buf));

	/* The id is alice's socket cookie, as she sees it herself. */
	len = sizeof(alice_own_id);
	CHECK(getsockopt(alice, SOL_SOCKET, SO_COOKIE, &alice_own_id, &len));
	if (got == 0 || got != alice_id || got != alice_own_id) {
		printf("1..1\nnot ok 1 - example: sender identity (got %llu, owner saw %llu, alice is %llu)\n",
		       (unsigned long long)got, (unsigned long long)alice_id, (unsigned long long)alice_own_id);
		return 1;
	}
	printf("1..1\nok 1 - example: sender identity\n");
	return 0;
}
