/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one header the module's bindgen step reads (scripts/bindgen).
 *
 * It pulls in the kernel APIs the Rust side calls and declares the C helpers
 * of rust/helpers.c, which wrap static inline functions and macros bindgen
 * cannot see.  Nothing outside rust/sys/ uses the generated bindings.
 */
#ifndef _MCAST_UNIX_KERNEL_H
#define _MCAST_UNIX_KERNEL_H

#include <linux/net.h>
#include <linux/socket.h>
#include <linux/filter.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/proc_fs.h>
#include <linux/rcupdate.h>
#include <linux/un.h>
#include <net/sock.h>
#include <net/scm.h>
#include <net/net_namespace.h>
#include <kunit/test.h>
#include "uapi/linux/mcast_unix.h"

/* Module parameters (declared in rust/helpers.c so they show in sysfs). */
int mcast_param_family(void);
unsigned int mcast_param_max_groups(void);
unsigned int mcast_param_max_members(void);

/* Wrappers of static inlines. */
void mcast_sock_hold(struct sock *sk);
void mcast_sock_put(struct sock *sk);
void mcast_sock_orphan(struct sock *sk);
void mcast_sock_graft(struct sock *sk, struct socket *parent);
struct net *mcast_sock_net(const struct sock *sk);
struct module *mcast_this_module(void);
void mcast_skb_queue_purge(struct sk_buff_head *list);


/* KUnit reporting from Rust (tests/kunit/mcast_unix_kunit.c). */
void mcast_kunit_fail(struct kunit *test, const char *file, int line, const char *msg);

#endif
