// SPDX-License-Identifier: GPL-2.0
/* Unicast, as with AF_UNIX: a seqpacket server checks its client's
 * credentials, then they exchange messages; a datagram reply goes back to
 * the sender's address. */
#include "common.h"
#include <unistd.h>
#include "common.h"

int main(void)
{
	int family = mcast_family();
	struct sockaddr_un addr, from;
	socklen_t len = abstract_addr(&addr, family, "example-server"), fromlen = sizeof(from);
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	char buf[64];
	int server, client, conn, d1, d2;
	ssize_t n;

	server = socket(family, SOCK_SEQPACKET, 0);
	CHECK(bind(server, (struct sockaddr *)&addr, len));
	CHECK(listen(server, 8));
	client = socket(family, SOCK_SEQPACKET, 0);
	CHECK(connect(client, (struct sockaddr *)&addr, len));
	CHECK(conn = accept(server, NULL, NULL));
	CHECK(getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &credlen));
	if (cred.pid != getpid())
		return 1;
	CHECK(send(client, "Hello", 5, 0));
	CHECK(n = recv(conn, buf, sizeof(buf), 0));
	if (n != 5 || memcmp(buf, "Hello", 5))
		return 1;

	/* Datagrams: the receiver sees the sender's address and answers it. */
	d1 = socket(family, SOCK_DGRAM, 0);
	d2 = socket(family, SOCK_DGRAM, 0);
	CHECK(bind(d1, (struct sockaddr *)&addr, len));	/* same name, other type: allowed */
	CHECK(bind(d2, (struct sockaddr *)&addr, sizeof(sa_family_t)));	/* autobind */
	CHECK(sendto(d2, "ping", 4, 0, (struct sockaddr *)&addr, len));
	CHECK(recvfrom(d1, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen));
	CHECK(sendto(d1, "pong", 4, 0, (struct sockaddr *)&from, fromlen));
	CHECK(n = recv(d2, buf, sizeof(buf), 0));
	if (n != 4 || memcmp(buf, "pong", 4))
		return 1;
	printf("1..1\nok 1 - example: unicast\n");
	return 0;
}
