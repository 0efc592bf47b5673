// SPDX-License-Identifier: GPL-2.0
/* A seqpacket group, D-Bus style: the owner (a bus daemon) accepts
 * clients, checks their credentials and admits them; from then on each
 * client's messages go to every admitted client, without the daemon. */
#include "common.h"
#include <unistd.h>
#include "common.h"

int main(void)
{
	int family = mcast_family();
	struct mcast_unix_mreq mreq = { 0 };
	int bus, client[2], conn[2], i;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	__u32 flags;
	char buf[64];
	ssize_t n;

	mreq.address_len = abstract_addr(&mreq.address, family, "example-bus");
	bus = socket(family, SOCK_SEQPACKET, 0);
	CHECK(setsockopt(bus, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, &mreq, sizeof(mreq)));
	CHECK(listen(bus, 16));

	for (i = 0; i < 2; i++) {
		client[i] = socket(family, SOCK_SEQPACKET, 0);
		CHECK(connect(client[i], (struct sockaddr *)&mreq.address, mreq.address_len));
		CHECK(conn[i] = accept(bus, NULL, NULL));
		CHECK(getsockopt(conn[i], SOL_SOCKET, SO_PEERCRED, &cred, &credlen));
		if (cred.uid != getuid())
			continue;	/* a real daemon applies its policy here */
		/* The daemon wants to see what client 0 says (SEND_TO_PEER). */
		flags = i == 0 ? MCAST_UNIX_SEND_TO_PEER : 0;
		CHECK(setsockopt(conn[i], SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, &flags, sizeof(flags)));
	}

	CHECK(send(client[0], "Hello, bus", 10, 0));
	CHECK(n = recv(client[1], buf, sizeof(buf), 0));	/* the other member */
	if (n != 10)
		return 1;
	CHECK(n = recv(conn[0], buf, sizeof(buf), 0));	/* the daemon's copy */
	if (n != 10)
		return 1;
	/* The daemon's own replies on an accepted socket stay unicast. */
	CHECK(send(conn[1], "just for you", 12, 0));
	CHECK(n = recv(client[1], buf, sizeof(buf), 0));
	if (n != 12)
		return 1;
	printf("1..1\nok 1 - example: seqpacket group\n");
	return 0;
}
