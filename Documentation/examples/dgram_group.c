// SPDX-License-Identifier: GPL-2.0
/* A datagram group: an owner creates it, subscribers join, anyone who may
 * reach the address publishes with one sendto(). */
#include "common.h"
#include <unistd.h>
#include "common.h"

int main(void)
{
	int family = mcast_family();
	struct mcast_unix_mreq mreq = { 0 };
	int owner, pub, sub[3], i;
	char buf[64];
	ssize_t n;

	mreq.address_len = abstract_addr(&mreq.address, family, "example-signals");
	owner = socket(family, SOCK_DGRAM, 0);
	CHECK(setsockopt(owner, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, &mreq, sizeof(mreq)));

	for (i = 0; i < 3; i++) {
		sub[i] = socket(family, SOCK_DGRAM, 0);
		/* The last subscriber would rather lose messages than slow the bus. */
		mreq.flags = i == 2 ? MCAST_UNIX_DROP_WHEN_FULL : 0;
		CHECK(setsockopt(sub[i], SOL_MCAST_UNIX, MCAST_UNIX_JOIN_GROUP, &mreq, sizeof(mreq)));
	}

	pub = socket(family, SOCK_DGRAM, 0);
	CHECK(connect(pub, (struct sockaddr *)&mreq.address, mreq.address_len));
	CHECK(send(pub, "NameOwnerChanged", 16, 0));

	for (i = 0; i < 3; i++) {
		CHECK(n = recv(sub[i], buf, sizeof(buf), 0));
		if (n != 16)
			return 1;
	}
	CHECK(setsockopt(sub[0], SOL_MCAST_UNIX, MCAST_UNIX_LEAVE_GROUP, &mreq, sizeof(mreq)));
	printf("1..1\nok 1 - example: datagram group\n");
	return 0;
}
