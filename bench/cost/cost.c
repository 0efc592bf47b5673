// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of one message, in the VM (scripts/cost): CPU time of the
 * sending thread per send and of the reading thread per receive, for
 *   unix   AF_UNIX datagram unicast,
 *   uni    mcast_unix datagram unicast,
 *   grp    a mcast_unix datagram group of one member,
 *   gN     a group of N members (one send, N receives),
 *   rgrp   a group of one member reading through a receive ring,
 *   rN     a group of N ring members (a receive: taking a frame, copying
 *          its bytes out and giving it back, no system call),
 * each with connect()+send() and with sendto(). Nobody sleeps: each round
 * sends ROUND messages into queues big enough for them, then reads them, so
 * what is measured is the code path itself. Under QEMU's -icount shift=0
 * one nanosecond of guest time is one instruction: the numbers are
 * instruction counts, the same in every run whatever the host does.
 *
 *   cost [-n MESSAGES] [-s SIZE] [-m MEMBERS] [-k KIND]...
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/mman.h>
#include <linux/mcast_unix.h>

#define ROUND 40
#define MAX_MEMBERS 256

static void check(int ok, const char *what)
{
	if (!ok) {
		perror(what);
		exit(1);
	}
}

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static socklen_t abstract_name(struct sockaddr_un *a, int family, int n)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = family;
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "cost-%d-%d", getpid(), n);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1);
}

static int big_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM, 0), big = 8 << 20;

	check(fd >= 0, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	return fd;
}

struct setup {
	int tx, owner, rx[MAX_MEMBERS], members;
	/* receive rings (ring != 0) */
	int ring;
	char *map[MAX_MEMBERS];
	unsigned next[MAX_MEMBERS], frame_size, frame_count;
	size_t map_len;
	struct sockaddr_un to;
	socklen_t to_len;
};

/* Gives member i a ring of frames big enough for `size` bytes, mapped. */
static void ring_up(struct setup *s, int i, int size)
{
	struct mcast_unix_ring_req req = { (160 + size + 63) / 64 * 64, ROUND };

	if (req.frame_size < 256)
		req.frame_size = 256;
	s->frame_size = req.frame_size;
	s->frame_count = req.frame_count;
	s->map_len = (MCAST_UNIX_RING_SIZE(req) + 4095) & ~4095UL;
	check(!setsockopt(s->rx[i], SOL_MCAST_UNIX, MCAST_UNIX_RX_RING, &req, sizeof(req)), "RX_RING");
	s->map[i] = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, s->rx[i], 0);
	check(s->map[i] != MAP_FAILED, "mmap");
}

/* A ring member's receive: the next frame's bytes copied out, the frame given back. */
static int ring_recv(struct setup *s, int m, char *buf)
{
	struct mcast_unix_frame *f = (void *)(s->map[m] + MCAST_UNIX_RING_HDRLEN + (size_t)s->next[m] * s->frame_size);
	int n;

	if (__atomic_load_n(&f->status, __ATOMIC_ACQUIRE) != MCAST_UNIX_FRAME_USER)
		return -1;
	n = f->snaplen;
	memcpy(buf, (char *)f + MCAST_UNIX_FRAME_DATA, n);
	__atomic_store_n(&f->status, MCAST_UNIX_FRAME_KERNEL, __ATOMIC_RELEASE);
	s->next[m] = (s->next[m] + 1) % s->frame_count;
	return n;
}

/* members == 0: unicast (AF_UNIX if family is AF_UNIX) */
static void set_up(struct setup *s, int family, int members, int ring, int size)
{
	static int names;

	memset(s, 0, sizeof(*s));
	s->ring = ring;
	s->owner = -1;
	s->tx = big_socket(family);
	s->members = members ? members : 1;
	s->to_len = abstract_name(&s->to, family, names++);
	if (!members) {
		s->rx[0] = big_socket(family);
		check(!bind(s->rx[0], (struct sockaddr *)&s->to, s->to_len), "bind");
	} else {
		struct mcast_unix_mreq m = { 0 };

		memcpy(&m.address, &s->to, s->to_len);
		m.address_len = s->to_len;
		s->owner = big_socket(family);
		check(!setsockopt(s->owner, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, &m, sizeof(m)), "CREATE_GROUP");
		for (int i = 0; i < members; i++) {
			s->rx[i] = big_socket(family);
			if (ring)
				ring_up(s, i, size);
			check(!setsockopt(s->rx[i], SOL_MCAST_UNIX, MCAST_UNIX_JOIN_GROUP, &m, sizeof(m)), "JOIN_GROUP");
		}
	}
	check(!connect(s->tx, (struct sockaddr *)&s->to, s->to_len), "connect");
}

static void tear_down(struct setup *s)
{
	close(s->tx);
	if (s->owner >= 0)
		close(s->owner);
	for (int i = 0; i < s->members; i++) {
		if (s->map[i])
			munmap(s->map[i], s->map_len);
		close(s->rx[i]);
	}
}

/* ns per send and per receive (one member's) */
static void measure(int family, int members, int ring, int use_sendto, long n, int size, double *per_send, double *per_recv)
{
	char buf[65536] = { 0 };
	double ts = 0, tr = 0;
	long rounds = n / ROUND;
	struct setup s;

	set_up(&s, family, members, ring, size);
	for (long r = 0; r < rounds + 1; r++) {
		double t0 = cpu_ns();

		for (int i = 0; i < ROUND; i++)
			check((use_sendto ? sendto(s.tx, buf, size, 0, (struct sockaddr *)&s.to, s.to_len)
					  : send(s.tx, buf, size, 0)) == size, "send");
		double t1 = cpu_ns();

		for (int m = 0; m < s.members; m++)
			for (int i = 0; i < ROUND; i++)
				check((s.ring ? ring_recv(&s, m, buf) : recv(s.rx[m], buf, sizeof(buf), 0)) == size, "recv");
		/* the first round warms up */
		if (r) {
			ts += t1 - t0;
			tr += cpu_ns() - t1;
		}
	}
	*per_send = ts / (rounds * ROUND);
	*per_recv = tr / (rounds * ROUND * s.members);
	tear_down(&s);
}

int main(int argc, char **argv)
{
	long n = 20000;
	int size = 64, members = 64, opt, family = AF_MCAST_UNIX;
	const char *kinds[8];
	int nkinds = 0;
	FILE *f = fopen("/sys/module/mcast_unix/parameters/family", "r");

	if (f) {
		if (fscanf(f, "%d", &family) != 1)
			family = AF_MCAST_UNIX;
		fclose(f);
	}
	/* AF_UNIX holds a sender back at 10 queued datagrams by default: a
	 * round must fit. */
	f = fopen("/proc/sys/net/unix/max_dgram_qlen", "w");
	check(f && fprintf(f, "%d\n", 10 * ROUND) > 0 && !fclose(f), "net.unix.max_dgram_qlen");
	while ((opt = getopt(argc, argv, "n:s:m:k:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'm': members = atoi(optarg); break;
		case 'k': if (nkinds < 8) kinds[nkinds++] = optarg; break;
		default:
			fprintf(stderr, "usage: cost [-n MESSAGES] [-s SIZE] [-m MEMBERS] [-k unix|uni|grp|gN|rgrp|rN]...\n");
			return 2;
		}
	}
	if (members < 1 || members > MAX_MEMBERS || n < ROUND)
		return 2;
	if (!nkinds) {
		static char gn[16], rn[16];

		snprintf(gn, sizeof(gn), "g%d", members);
		snprintf(rn, sizeof(rn), "r%d", members);
		kinds[nkinds++] = "unix";
		kinds[nkinds++] = "uni";
		kinds[nkinds++] = "grp";
		kinds[nkinds++] = gn;
		kinds[nkinds++] = "rgrp";
		kinds[nkinds++] = rn;
	}
	printf("cost: %ld messages of %d bytes; ns per call (instructions under -icount shift=0)\n", n, size);
	for (int use_sendto = 0; use_sendto < 2; use_sendto++)
		for (int k = 0; k < nkinds; k++) {
			const char *kind = kinds[k];
			int fam = strcmp(kind, "unix") ? family : AF_UNIX;
			int ring = kind[0] == 'r';
			int m = !strcmp(kind, "unix") || !strcmp(kind, "uni") ? 0
				: !strcmp(kind, "grp") || !strcmp(kind, "rgrp") ? 1 : atoi(kind + 1);
			double s, r;

			if (m > MAX_MEMBERS)
				continue;
			measure(fam, m, ring, use_sendto, m > 1 ? n / m + ROUND : n, size, &s, &r);
			printf("cost: %-6s %-7s send %8.0f  recv %6.0f\n", kind, use_sendto ? "sendto" : "send", s, r);
		}
	return 0;
}
