// SPDX-License-Identifier: GPL-2.0
/*
 * C side of mcast_unix: module parameters and wrappers of static inline
 * kernel functions the Rust code calls (see include/mcast_unix_kernel.h).
 * No logic lives here.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "mcast_unix_kernel.h"

static int family = AF_MCAST_UNIX;
module_param(family, int, 0444);
MODULE_PARM_DESC(family, "address family number to register (default AF_MCAST_UNIX)");

static unsigned int max_groups = 20;
module_param(max_groups, uint, 0444);
MODULE_PARM_DESC(max_groups, "groups a socket may join (default 20)");

static unsigned int max_members = 4096;
module_param(max_members, uint, 0444);
MODULE_PARM_DESC(max_members, "members a group may have (default 4096)");

int mcast_param_family(void) { return family; }
unsigned int mcast_param_max_groups(void) { return max_groups; }
unsigned int mcast_param_max_members(void) { return max_members; }

void mcast_sock_hold(struct sock *sk) { sock_hold(sk); }
void mcast_sock_put(struct sock *sk) { sock_put(sk); }
void mcast_sock_orphan(struct sock *sk) { sock_orphan(sk); }
void mcast_sock_graft(struct sock *sk, struct socket *parent) { sock_graft(sk, parent); }
struct net *mcast_sock_net(const struct sock *sk) { return sock_net(sk); }
struct module *mcast_this_module(void) { return THIS_MODULE; }
void mcast_skb_queue_purge(struct sk_buff_head *list) { skb_queue_purge(list); }

