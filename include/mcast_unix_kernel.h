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
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/pid_namespace.h>
#include <linux/user_namespace.h>
#include <net/sock.h>
#include <linux/sock_diag.h>
#include <net/scm.h>
#include <net/net_namespace.h>
#include <net/tcp_states.h>
#include <kunit/test.h>
#include <linux/ioctl.h>
#include <asm/ioctls.h>
#include <linux/sockios.h>
#include "uapi/linux/mcast_unix.h"

/* ioctl numbers, as constants bindgen can read (the macros chain through
 * the architecture's ioctls.h). */
enum {
	MCAST_SIOCINQ = SIOCINQ,
	MCAST_SIOCOUTQ = SIOCOUTQ,
};

/* Module parameters (declared in rust/helpers.c so they show in sysfs). */
int mcast_param_family(void);
unsigned int mcast_param_max_groups(void);
unsigned int mcast_param_max_members(void);

/*
 * What the family keeps in skb->cb of a queued message: the sender's
 * credentials (for SCM_CREDENTIALS), its address (for recvmsg's msg_name,
 * a counted reference owned by the skb) and the descriptors it passes.
 */
struct mcast_skb_cb {
	struct pid *pid;
	kuid_t uid;
	kgid_t gid;
	const void *addr;
	u64 sender_id;		/* the sending socket's cookie */
	const void *fds;	/* descriptors passed (SCM_RIGHTS), shared and
				 * counted like addr; NULL for none */
};

struct module *mcast_this_module(void);

/* struct sock */
void mcast_sock_hold(struct sock *sk);
void mcast_sock_put(struct sock *sk);
bool mcast_sock_hold_not_zero(struct sock *sk);
void mcast_sock_orphan(struct sock *sk);
void mcast_sock_graft(struct sock *sk, struct socket *parent);
struct net *mcast_sock_net(const struct sock *sk);
bool mcast_sock_flag(const struct sock *sk, int flag);
void mcast_sock_set_flag(struct sock *sk, int flag);
long mcast_sock_rcvtimeo(const struct sock *sk, bool noblock);
long mcast_sock_sndtimeo(const struct sock *sk, bool noblock);
int mcast_sock_error(struct sock *sk);
int mcast_sock_intr_errno(long timeo);
bool mcast_passcred(const struct socket *sock);
wait_queue_head_t *mcast_sk_sleep(struct sock *sk);
void mcast_sk_state_change(struct sock *sk);
void mcast_sk_data_ready(struct sock *sk);
void mcast_sk_error_report(struct sock *sk);
void mcast_sk_wake_async_hup(struct sock *sk);
void mcast_sock_poll_wait(struct file *file, struct socket *sock, poll_table *p);
bool mcast_poll_wants_write(poll_table *p);
int mcast_put_user_int(unsigned long arg, int value);
int mcast_copy_from_sockptr(void *dst, sockptr_t src, size_t len);
void mcast_poll_wait(struct file *file, wait_queue_head_t *wq, poll_table *p);
bool mcast_sock_writeable(const struct sock *sk);
unsigned int mcast_rmem_alloc(const struct sock *sk);
unsigned int mcast_wmem_alloc(const struct sock *sk);
bool mcast_sock_has_error(const struct sock *sk);
void mcast_inherit_flags(const struct socket *old, struct socket *new);
void mcast_init_peercred(struct sock *sk);
void mcast_copy_peercred(struct sock *sk, struct sock *from);

/* struct sk_buff */
struct mcast_skb_cb *mcast_skb_cb(struct sk_buff *skb);
void mcast_skb_set_destructor(struct sk_buff *skb, void (*destructor)(struct sk_buff *));
void mcast_skb_deliver(struct sk_buff *skb, struct sock *sk, unsigned int extra,
		       void (*sender)(struct sk_buff *), void (*receiver)(struct sk_buff *));
void mcast_skb_queue_purge(struct sk_buff_head *list);
unsigned int mcast_skb_len(const struct sk_buff *skb);
struct sock *mcast_skb_sk(const struct sk_buff *skb);
long mcast_skb_queue_next_len(struct sk_buff_head *list);
unsigned int mcast_skb_queue_bytes(struct sk_buff_head *list);
void mcast_skb_add_creds(struct sk_buff *skb);
bool mcast_sk_wants_creds(const struct sock *sk);
void mcast_skb_copy_creds(struct sk_buff *to, struct sk_buff *from);
void mcast_skb_put_creds(struct sk_buff *skb);

/* Receive rings (MCAST_UNIX_RX_RING): zeroed memory a socket's owner maps,
 * and the namespaces frame credentials are given in. */
struct mcast_ring {
	void *mem;
	unsigned long size;		/* mapped bytes, a whole number of pages */
	spinlock_t lock;		/* guards the namespace pointers */
	struct pid_namespace *pid_ns;	/* the creator's, until release */
	struct user_namespace *user_ns;
};
struct mcast_ring *mcast_ring_alloc(unsigned long bytes);
void mcast_ring_drop_ns(struct mcast_ring *ring);
void mcast_ring_free(struct mcast_ring *ring);
int mcast_ring_mmap(struct mcast_ring *ring, struct vm_area_struct *vma);
void mcast_ring_creds(struct mcast_ring *ring, struct sk_buff *skb, s32 *pid, u32 *uid, u32 *gid);

/* struct msghdr and ancillary data */
struct mcast_creds {
	struct pid *pid;
	kuid_t uid;
	kgid_t gid;
};
int mcast_scm_parse(struct socket *sock, struct msghdr *msg, struct mcast_creds *creds,
		    struct scm_fp_list **fds);
void mcast_fds_free(struct scm_fp_list *fpl);
void mcast_skb_set_creds(struct sk_buff *skb, struct mcast_creds *creds);
void mcast_put_pid(struct pid *pid);
void mcast_scm_recv(struct socket *sock, struct msghdr *msg, struct sk_buff *skb, int flags,
		    struct scm_fp_list *fds);
u64 mcast_sock_cookie(struct sock *sk);
int mcast_getsockopt_put(char __user *optval, int __user *optlen, const void *val, int size);

unsigned int mcast_prog_keep(const struct bpf_prog *prog, struct sk_buff *skb);
unsigned int mcast_sk_filter_keep(struct sock *sk, struct sk_buff *skb);
int mcast_skb_trim(struct sk_buff *skb, unsigned int len);
void mcast_consume_skb(struct sk_buff *skb);

/* RCU */
void mcast_rcu_read_lock(void);
void mcast_rcu_read_unlock(void);

/* Drops */
void mcast_sk_drops_inc(struct sock *sk);
void mcast_recv_cmsgs(struct msghdr *msg, struct sock *sk, struct sk_buff *skb);

/* Wait queues */
void mcast_init_waitqueue_head(wait_queue_head_t *wq);
bool mcast_wq_has_sleeper(wait_queue_head_t *wq);
void mcast_wake_up_poll(wait_queue_head_t *wq, unsigned int mask);
void mcast_init_wait(struct wait_queue_entry *entry);
void mcast_init_wait_func(struct wait_queue_entry *entry, wait_queue_func_t func, void *priv);
bool mcast_signal_pending(void);
void mcast_cond_resched(void);

/* Pathname sockets */
int mcast_path_mknod(const char *name, struct socket *sock, bool bound, struct path *out);
int mcast_path_lookup(const char *name, struct path *out, unsigned long *key);
unsigned long mcast_path_key(const struct path *path);

/* POLLOUT relay from a full peer's peer_wait to a socket's pollers. */
struct mcast_relay {
	wait_queue_entry_t entry;
	struct sock *sk;
	wait_queue_head_t *other_wq;
};
void mcast_relay_init(struct mcast_relay *r, struct sock *sk);
bool mcast_relay_connect(struct mcast_relay *r, wait_queue_head_t *other_wq);
void mcast_relay_disconnect(struct mcast_relay *r, wait_queue_head_t *other_wq);

/* /proc/net/mcast_unix */
int mcast_proc_register(void);
void mcast_proc_unregister(void);

/* KUnit reporting from Rust (tests/kunit/mcast_unix_kunit.c). */
void mcast_kunit_fail(struct kunit *test, const char *file, int line, const char *msg);

#endif
