/* SPDX-License-Identifier: GPL-2.0 */
/* Shared bits of the examples: the family number and an abstract address. */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/mcast_unix.h>

/* The family the loaded module registered (AF_MCAST_UNIX unless overridden). */
static int mcast_family(void)
{
	FILE *f = fopen("/sys/module/mcast_unix/parameters/family", "r");
	int family = AF_MCAST_UNIX;

	if (f) {
		if (fscanf(f, "%d", &family) != 1)
			family = AF_MCAST_UNIX;
		fclose(f);
	}
	return family;
}

/* An abstract address "\0name"; returns its length. */
static socklen_t abstract_addr(struct sockaddr_un *a, int family, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = family;
	strncpy(a->sun_path + 1, name, sizeof(a->sun_path) - 2);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

#define CHECK(expr) do { if ((expr) < 0) { perror(#expr); exit(1); } } while (0)
#endif
