// SPDX-License-Identifier: GPL-2.0
/*
 * C side of mcast_unix: module parameters, and wrappers of static inline
 * kernel functions and macros the Rust code calls (declared in
 * include/mcast_unix_kernel.h).  No family logic lives here: each function
 * is one kernel idiom that bindgen cannot see.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/file.h>
#include <linux/magic.h>
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
struct module *mcast_this_module(void) { return THIS_MODULE; }

/* struct sock */
void mcast_sock_hold(struct sock *sk) { sock_hold(sk); }
void mcast_sock_put(struct sock *sk) { sock_put(sk); }
bool mcast_sock_hold_not_zero(struct sock *sk) { return refcount_inc_not_zero(&sk->sk_refcnt); }
void mcast_sock_orphan(struct sock *sk) { sock_orphan(sk); }
void mcast_sock_graft(struct sock *sk, struct socket *parent) { sock_graft(sk, parent); }
struct net *mcast_sock_net(const struct sock *sk) { return sock_net(sk); }
bool mcast_sock_flag(const struct sock *sk, int flag) { return sock_flag(sk, flag); }
void mcast_sock_set_flag(struct sock *sk, int flag) { sock_set_flag(sk, flag); }
long mcast_sock_rcvtimeo(const struct sock *sk, bool noblock) { return sock_rcvtimeo(sk, noblock); }
long mcast_sock_sndtimeo(const struct sock *sk, bool noblock) { return sock_sndtimeo(sk, noblock); }
int mcast_sock_error(struct sock *sk) { return sock_error(sk); }
int mcast_sock_intr_errno(long timeo) { return sock_intr_errno(timeo); }
bool mcast_passcred(const struct socket *sock) { return test_bit(SOCK_PASSCRED, &sock->flags); }
wait_queue_head_t *mcast_sk_sleep(struct sock *sk) { return sk_sleep(sk); }
void mcast_sk_state_change(struct sock *sk) { sk->sk_state_change(sk); }
void mcast_sk_data_ready(struct sock *sk) { sk->sk_data_ready(sk); }
void mcast_sk_error_report(struct sock *sk) { sk_error_report(sk); }
void mcast_sk_wake_async_hup(struct sock *sk) { sk_wake_async(sk, SOCK_WAKE_WAITD, POLL_HUP); }
void mcast_sock_poll_wait(struct file *file, struct socket *sock, poll_table *p)
{
	sock_poll_wait(file, sock, p);
}
bool mcast_poll_wants_write(poll_table *p)
{
	return poll_requested_events(p) & (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
}
int mcast_copy_from_sockptr(void *dst, sockptr_t src, size_t len)
{
	return copy_from_sockptr(dst, src, len) ? -EFAULT : 0;
}
int mcast_put_user_int(unsigned long arg, int value)
{
	return put_user(value, (int __user *)arg);
}
void mcast_poll_wait(struct file *file, wait_queue_head_t *wq, poll_table *p) { poll_wait(file, wq, p); }
bool mcast_sock_writeable(const struct sock *sk) { return sock_writeable(sk); }
unsigned int mcast_rmem_alloc(const struct sock *sk) { return atomic_read(&sk->sk_rmem_alloc); }
unsigned int mcast_wmem_alloc(const struct sock *sk) { return refcount_read(&sk->sk_wmem_alloc) - 1; }

/* Credentials of the peer for SO_PEERCRED (as af_unix.c keeps them). */
bool mcast_sock_has_error(const struct sock *sk)
{
	return READ_ONCE(sk->sk_err) || !skb_queue_empty_lockless(&sk->sk_error_queue);
}
void mcast_inherit_flags(const struct socket *old, struct socket *new)
{
	if (test_bit(SOCK_PASSCRED, &old->flags))
		set_bit(SOCK_PASSCRED, &new->flags);
	if (test_bit(SOCK_PASSPIDFD, &old->flags))
		set_bit(SOCK_PASSPIDFD, &new->flags);
}

void mcast_init_peercred(struct sock *sk)
{
	const struct cred *old_cred;
	struct pid *old_pid;

	spin_lock(&sk->sk_peer_lock);
	old_pid = sk->sk_peer_pid;
	old_cred = sk->sk_peer_cred;
	sk->sk_peer_pid = get_pid(task_tgid(current));
	sk->sk_peer_cred = get_current_cred();
	spin_unlock(&sk->sk_peer_lock);
	put_pid(old_pid);
	put_cred(old_cred);
}

/* SO_PEERCRED of sk becomes a copy of from's.  from's pid and cred are read
 * under from's sk_peer_lock (listen() may replace and release them at any
 * time), then installed under sk's: the two locks are never held together. */
void mcast_copy_peercred(struct sock *sk, struct sock *from)
{
	const struct cred *old_cred, *cred;
	struct pid *old_pid, *pid;

	spin_lock(&from->sk_peer_lock);
	pid = get_pid(from->sk_peer_pid);
	cred = get_cred(from->sk_peer_cred);
	spin_unlock(&from->sk_peer_lock);

	spin_lock(&sk->sk_peer_lock);
	old_pid = sk->sk_peer_pid;
	old_cred = sk->sk_peer_cred;
	sk->sk_peer_pid = pid;
	sk->sk_peer_cred = cred;
	spin_unlock(&sk->sk_peer_lock);
	put_pid(old_pid);
	put_cred(old_cred);
}

/* struct sk_buff */
struct mcast_skb_cb *mcast_skb_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct mcast_skb_cb) > sizeof(skb->cb));
	return (struct mcast_skb_cb *)skb->cb;
}
void mcast_skb_set_destructor(struct sk_buff *skb, void (*destructor)(struct sk_buff *))
{
	skb->destructor = destructor;
}
/* Moves a message to sk's receive queue: uncharges the sender (if the skb is
 * still the sender's, destructor `sender`) without running the family's
 * destructor (the cb moves with the skb), grows its truesize by `extra`
 * (memory the message pins besides its own: passed descriptors), charges sk
 * (sock_rfree uncharges the same truesize), and queues it. */
void mcast_skb_deliver(struct sk_buff *skb, struct sock *sk, unsigned int extra,
		       void (*sender)(struct sk_buff *), void (*receiver)(struct sk_buff *))
{
	if (skb->destructor == sender)
		sock_wfree(skb);
	skb->destructor = NULL;
	skb->sk = NULL;
	skb->truesize += extra;
	skb_set_owner_r(skb, sk);
	skb->destructor = receiver;
	sock_skb_set_dropcount(sk, skb);
	skb_queue_tail(&sk->sk_receive_queue, skb);
}
void mcast_skb_queue_purge(struct sk_buff_head *list) { skb_queue_purge(list); }
unsigned int mcast_skb_len(const struct sk_buff *skb) { return skb->len; }
struct sock *mcast_skb_sk(const struct sk_buff *skb) { return skb->sk; }
long mcast_skb_queue_next_len(struct sk_buff_head *list)
{
	struct sk_buff *skb;
	long len = -1;

	spin_lock_irq(&list->lock);
	skb = skb_peek(list);
	if (skb)
		len = skb->len;
	spin_unlock_irq(&list->lock);
	return len;
}
unsigned int mcast_skb_queue_bytes(struct sk_buff_head *list)
{
	struct sk_buff *skb;
	unsigned int total = 0;

	spin_lock_irq(&list->lock);
	skb_queue_walk(list, skb)
		total += skb->len;
	spin_unlock_irq(&list->lock);
	return total;
}
/* Attaches the caller's credentials unless the message carries some. */
void mcast_skb_add_creds(struct sk_buff *skb)
{
	struct mcast_skb_cb *cb = mcast_skb_cb(skb);

	if (cb->pid)
		return;
	cb->pid = get_pid(task_tgid(current));
	current_uid_gid(&cb->uid, &cb->gid);
}

/* The receiver wants credentials: SO_PASSCRED, or not yet accepted. */
bool mcast_sk_wants_creds(const struct sock *sk)
{
	struct socket *sock = READ_ONCE(sk->sk_socket);

	return !sock || test_bit(SOCK_PASSCRED, &sock->flags);
}
void mcast_skb_copy_creds(struct sk_buff *to, struct sk_buff *from)
{
	struct mcast_skb_cb *cb = mcast_skb_cb(to), *src = mcast_skb_cb(from);

	cb->pid = get_pid(src->pid);
	cb->uid = src->uid;
	cb->gid = src->gid;
}
void mcast_skb_put_creds(struct sk_buff *skb)
{
	struct mcast_skb_cb *cb = mcast_skb_cb(skb);

	put_pid(cb->pid);
	cb->pid = NULL;
}

/* Receive rings */

struct mcast_ring *mcast_ring_alloc(unsigned long bytes)
{
	struct mcast_ring *ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);

	if (!ring)
		return NULL;
	ring->size = PAGE_ALIGN(bytes);
	ring->mem = vmalloc_user(ring->size);
	if (!ring->mem) {
		kfree(ring);
		return NULL;
	}
	spin_lock_init(&ring->lock);
	ring->pid_ns = get_pid_ns(task_active_pid_ns(current));
	ring->user_ns = get_user_ns(current_user_ns());
	return ring;
}

/* At release (process context): frames filled later carry no credentials
 * beyond uid/gid -1. */
void mcast_ring_drop_ns(struct mcast_ring *ring)
{
	struct pid_namespace *pid_ns;
	struct user_namespace *user_ns;

	spin_lock(&ring->lock);
	pid_ns = ring->pid_ns;
	user_ns = ring->user_ns;
	ring->pid_ns = NULL;
	ring->user_ns = NULL;
	spin_unlock(&ring->lock);
	if (pid_ns)
		put_pid_ns(pid_ns);
	if (user_ns)
		put_user_ns(user_ns);
}

/* With the sock (maybe from an RCU callback: vfree defers itself there). */
void mcast_ring_free(struct mcast_ring *ring)
{
	/* Nothing else uses the ring now; release dropped the namespaces (a
	 * socket given a ring has a file, so it was released). */
	if (ring->pid_ns)
		put_pid_ns(ring->pid_ns);
	if (ring->user_ns)
		put_user_ns(ring->user_ns);
	vfree(ring->mem);
	kfree(ring);
}

/* The whole ring, shared, from offset 0; the mapping holds the socket's
 * file, so the ring outlives it.  remap_vmalloc_range() sets VM_DONTEXPAND
 * (no mremap growth) and checks the range. */
int mcast_ring_mmap(struct mcast_ring *ring, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != ring->size || !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	return remap_vmalloc_range(vma, ring->mem, 0);
}

/* A message's credentials as the ring's creator sees them. */
void mcast_ring_creds(struct mcast_ring *ring, struct sk_buff *skb, s32 *pid, u32 *uid, u32 *gid)
{
	struct mcast_skb_cb *cb = mcast_skb_cb(skb);

	spin_lock(&ring->lock);
	*pid = cb->pid && ring->pid_ns ? pid_nr_ns(cb->pid, ring->pid_ns) : 0;
	*uid = ring->user_ns ? from_kuid_munged(ring->user_ns, cb->uid) : (u32)-1;
	*gid = ring->user_ns ? from_kgid_munged(ring->user_ns, cb->gid) : (u32)-1;
	spin_unlock(&ring->lock);
}

/* struct msghdr and ancillary data */

/* Whether a file is an io_uring instance.  io_is_uring_fops() is not
 * exported; a ring is the anonymous inode io_uring_get_file() names
 * "[io_uring]" (anon_inode_create_getfile), and only kernel code creates
 * files on the anonymous inode filesystem (it is never mounted by users) and
 * chooses their names.  An O_PATH descriptor of a ring matches too: refused
 * as well, which errs on the safe side.  Without CONFIG_IO_URING no file
 * matches. */
static bool mcast_file_is_io_uring(struct file *file)
{
	return file_inode(file)->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
	       !strcmp(file->f_path.dentry->d_name.name, "[io_uring]");
}

/* Adds the descriptors of one SCM_RIGHTS header to *fplp (allocated on first
 * use), taking a reference to each file.  As __scm_send does for AF_UNIX:
 * EINVAL beyond SCM_MAX_FD descriptors per message, EBADF for a descriptor
 * that is not open.  Unlike AF_UNIX: a socket (of any family) or an io_uring
 * instance is refused with EOPNOTSUPP, so nothing the family carries can
 * carry descriptors itself (no cycles, no garbage collector needed; see
 * Documentation/design-fd-passing.md).  On error the files taken so far stay
 * in the list, which the caller destroys. */
static int mcast_fds_add(struct cmsghdr *cmsg, struct scm_fp_list **fplp)
{
	const int *fds = (const int *)CMSG_DATA(cmsg);
	int n = (cmsg->cmsg_len - sizeof(struct cmsghdr)) / sizeof(int);
	struct scm_fp_list *fpl = *fplp;
	int i;

	if (n <= 0)
		return 0;
	if (n > SCM_MAX_FD)
		return -EINVAL;
	if (!fpl) {
		fpl = kzalloc(sizeof(*fpl), GFP_KERNEL_ACCOUNT);
		if (!fpl)
			return -ENOMEM;
		fpl->max = SCM_MAX_FD;
#if IS_ENABLED(CONFIG_UNIX)
		INIT_LIST_HEAD(&fpl->vertices);
#endif
		*fplp = fpl;
	}
	if (fpl->count + n > fpl->max)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct file *file = fds[i] < 0 ? NULL : fget_raw(fds[i]);

		if (!file)
			return -EBADF;
		if (sock_from_file(file) || mcast_file_is_io_uring(file)) {
			fput(file);
			return -EOPNOTSUPP;
		}
		fpl->fp[fpl->count++] = file;
	}
	/* scm_fp_dup() takes a reference to the user for each reader's copy. */
	if (!fpl->user)
		fpl->user = get_uid(current_user());
	return 0;
}

/* Parses a sendmsg's ancillary data header by header, in order, as
 * scm_send() does: EINVAL at the first malformed header.  SCM_RIGHTS is the
 * family's own (mcast_fds_add: __scm_send refuses it on every family but
 * AF_UNIX); every other header goes to the kernel's parser alone, in a
 * message header of its own (EINVAL for an unknown type, EPERM for
 * credentials the caller may not claim, ...).  Explicit SCM_CREDENTIALS are
 * returned in *creds (a pid reference the caller owns; NULL pid when there
 * were none), descriptors in *fds (a list the caller owns, or NULL). */
int mcast_scm_parse(struct socket *sock, struct msghdr *msg, struct mcast_creds *creds,
		    struct scm_fp_list **fds)
{
	struct scm_cookie scm;
	struct cmsghdr *cmsg;
	int err = 0;

	/* No explicit credentials: invalid ids, as scm_send() leaves them (a
	 * receiver that turns SO_PASSCRED on later reads the overflow ids). */
	creds->pid = NULL;
	creds->uid = INVALID_UID;
	creds->gid = INVALID_GID;
	*fds = NULL;
	memset(&scm, 0, sizeof(scm));
	scm.creds.uid = INVALID_UID;
	scm.creds.gid = INVALID_GID;
	if (msg->msg_controllen <= 0)
		return 0;
	/* The walk stops at the first header CMSG_OK rejects (a zero or short
	 * cmsg_len would otherwise never advance), so it always ends. */
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg)) {
			err = -EINVAL;
			break;
		}
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			err = mcast_fds_add(cmsg, &scm.fp);
		} else {
			/* Exactly this header: the next one starts past
			 * CMSG_ALIGN(cmsg_len), beyond this window. */
			struct msghdr one = {
				.msg_control = cmsg,
				.msg_controllen = cmsg->cmsg_len,
			};

			err = __scm_send(sock, &one, &scm);
		}
		if (err)
			break;
	}
	if (!err) {
		creds->pid = get_pid(scm.pid);
		creds->uid = scm.creds.uid;
		creds->gid = scm.creds.gid;
		*fds = scm.fp;
		scm.fp = NULL;
	}
	scm_destroy(&scm);	/* what was taken, on error (__scm_send may have already) */
	return err;
}

/* Drops a list of passed descriptors (the last reference to a message's). */
void mcast_fds_free(struct scm_fp_list *fpl)
{
	struct scm_cookie scm = { .fp = fpl };

	__scm_destroy(&scm);
}

/* Moves parsed credentials into a message (its pid reference too). */
void mcast_skb_set_creds(struct sk_buff *skb, struct mcast_creds *creds)
{
	struct mcast_skb_cb *cb = mcast_skb_cb(skb);

	put_pid(cb->pid);
	cb->pid = creds->pid;
	cb->uid = creds->uid;
	cb->gid = creds->gid;
	creds->pid = NULL;
}

void mcast_put_pid(struct pid *pid) { put_pid(pid); }

/* Passes the message's credentials to the receiver if it asked (SO_PASSCRED),
 * and installs its descriptors (`fds`, the message's shared list, or NULL):
 * the reader gets a copy of its own (scm_fp_dup), which scm_detach_fds()
 * installs (MSG_CMSG_CLOEXEC; MSG_CTRUNC and the rest released when the
 * control buffer is short) and frees, as AF_UNIX.  Without memory for the
 * copy the descriptors are not installed and MSG_CTRUNC is set. */
void mcast_scm_recv(struct socket *sock, struct msghdr *msg, struct sk_buff *skb, int flags,
		    struct scm_fp_list *fds)
{
	struct mcast_skb_cb *cb = mcast_skb_cb(skb);
	struct scm_cookie scm;

	/* Nothing to pass: scm_recv() would only take and put a pid reference
	 * (most reads, so they skip the cookie). */
	if (!fds && !test_bit(SOCK_PASSCRED, &sock->flags) &&
	    !test_bit(SOCK_PASSPIDFD, &sock->flags) && !test_bit(SOCK_PASSSEC, &sock->flags))
		return;
	memset(&scm, 0, sizeof(scm));
	scm_set_cred(&scm, cb->pid, cb->uid, cb->gid);
	if (fds) {
		/* scm_detach_fds() would leave the copy allocated for a kernel
		 * caller's control buffer (it only warns): none for those. */
		if (msg->msg_control && msg->msg_control_is_user)
			scm.fp = scm_fp_dup(fds);
		if (!scm.fp)
			msg->msg_flags |= MSG_CTRUNC;
	}
	scm_recv(sock, msg, &scm, flags);
}

/* The socket's cookie (SO_COOKIE), made on first use: an id unique for the
 * boot.  sock_gen_cookie() itself is not exported; this exported wrapper of
 * it is. */
u64 mcast_sock_cookie(struct sock *sk)
{
	u32 c[2];

	sock_diag_save_cookie(sk, c);
	return (u64)c[1] << 32 | c[0];
}

/* The copy-out of getsockopt as sock_getsockopt does it: a negative length
 * is EINVAL, at most `size` bytes are copied, and the length copied is
 * written back. */
int mcast_getsockopt_put(char __user *optval, int __user *optlen, const void *val, int size)
{
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	if (len > size)
		len = size;
	if (copy_to_user(optval, val, len))
		return -EFAULT;
	if (put_user(len, optlen))
		return -EFAULT;
	return 0;
}

/* How many bytes of a message a peer filter keeps (0: it rejects it). */
unsigned int mcast_prog_keep(const struct bpf_prog *prog, struct sk_buff *skb)
{
	return bpf_prog_run_save_cb(prog, skb);
}

/* How many bytes of a message sk's own socket filter keeps (0: rejected,
 * UINT_MAX: no filter): sk_filter_trim_cap's checks without trimming, so a
 * group message can be filtered for each member before it is cloned. */
unsigned int mcast_sk_filter_keep(struct sock *sk, struct sk_buff *skb)
{
	struct sock *save = skb->sk;
	struct sk_filter *filter;
	unsigned int keep = UINT_MAX;

	if (security_sock_rcv_skb(sk, skb))
		return 0;
	rcu_read_lock();
	filter = rcu_dereference(sk->sk_filter);
	if (filter) {
		skb->sk = sk;
		keep = bpf_prog_run_save_cb(filter->prog, skb);
		skb->sk = save;
	}
	rcu_read_unlock();
	return keep;
}

/* A real function only with CONFIG_TRACEPOINTS; a static inline otherwise. */
void mcast_consume_skb(struct sk_buff *skb) { consume_skb(skb); }

int mcast_skb_trim(struct sk_buff *skb, unsigned int len)
{
	return pskb_trim(skb, len);
}

/* RCU */
void mcast_rcu_read_lock(void) { rcu_read_lock(); }
void mcast_rcu_read_unlock(void) { rcu_read_unlock(); }

/* Drops: a copy a full DROP_WHEN_FULL member lost (SO_RXQ_OVFL, /proc). */
void mcast_sk_drops_inc(struct sock *sk) { atomic_inc(&sk->sk_drops); }
void mcast_recv_cmsgs(struct msghdr *msg, struct sock *sk, struct sk_buff *skb)
{
	sock_recv_cmsgs(msg, sk, skb);
}

/* Wait queues */
void mcast_init_waitqueue_head(wait_queue_head_t *wq) { init_waitqueue_head(wq); }
bool mcast_wq_has_sleeper(wait_queue_head_t *wq) { return wq_has_sleeper(wq); }
void mcast_wake_up_poll(wait_queue_head_t *wq, unsigned int mask)
{
	wake_up_interruptible_sync_poll(wq, mask);
}
void mcast_init_wait(struct wait_queue_entry *entry) { init_wait(entry); }
void mcast_init_wait_func(struct wait_queue_entry *entry, wait_queue_func_t func, void *priv)
{
	init_waitqueue_func_entry(entry, func);
	entry->private = priv;
}
bool mcast_signal_pending(void) { return signal_pending(current); }
void mcast_cond_resched(void) { cond_resched(); }

/* Pathname sockets: create the socket inode (as af_unix's unix_bind_bsd). */
int mcast_path_mknod(const char *name, struct socket *sock, bool bound, struct path *out)
{
	umode_t mode = S_IFSOCK | (SOCK_INODE(sock)->i_mode & ~current_umask());
	struct mnt_idmap *idmap;
	struct dentry *dentry;
	struct path parent;
	int err;

	dentry = kern_path_create(AT_FDCWD, name, &parent, 0);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry) == -EEXIST ? -EADDRINUSE : PTR_ERR(dentry);
	/* As af_unix: a taken path is EADDRINUSE even for a bound socket,
	 * otherwise binding twice is EINVAL (nothing is created). */
	if (bound) {
		done_path_create(&parent, dentry);
		return -EINVAL;
	}
	idmap = mnt_idmap(parent.mnt);
	err = security_path_mknod(&parent, dentry, mode, 0);
	if (!err)
		err = vfs_mknod(idmap, d_inode(parent.dentry), dentry, mode, 0);
	if (!err) {
		out->mnt = mntget(parent.mnt);
		out->dentry = dget(dentry);
	}
	done_path_create(&parent, dentry);
	return err == -EEXIST ? -EADDRINUSE : err;
}

/* Pathname sockets: find the socket inode a connect/sendto names.  On success
 * the path is held (release with path_put) and *key identifies the inode. */
int mcast_path_lookup(const char *name, struct path *out, unsigned long *key)
{
	struct inode *inode;
	int err;

	err = kern_path(name, LOOKUP_FOLLOW, out);
	if (err)
		return err;
	inode = d_backing_inode(out->dentry);
	err = inode_permission(mnt_idmap(out->mnt), inode, MAY_WRITE);
	if (!err && !S_ISSOCK(inode->i_mode))
		err = -ECONNREFUSED;
	if (err) {
		path_put(out);
		return err;
	}
	*key = (unsigned long)inode;
	return 0;
}

/* The inode key of a bound path (see mcast_path_lookup). */
unsigned long mcast_path_key(const struct path *path)
{
	return (unsigned long)d_backing_inode(path->dentry);
}

/*
 * POLLOUT relay (af_unix's peer_wake): a socket whose peer is full hooks its
 * relay entry on the peer's peer_wait queue; when the peer drains, the relay
 * unhooks itself and wakes the socket's own pollers.  The relay is on at most
 * one queue at a time (`other_wq`), changed only under that queue's lock; the
 * Rust side holds a reference to the socket that queue belongs to for as long
 * as the relay may be on it.
 */
static int mcast_relay_wake(wait_queue_entry_t *q, unsigned int mode, int flags, void *key)
{
	struct mcast_relay *r = container_of(q, struct mcast_relay, entry);
	wait_queue_head_t *wq;

	__remove_wait_queue(r->other_wq, q);
	WRITE_ONCE(r->other_wq, NULL);
	wq = sk_sleep(r->sk);
	if (wq)
		wake_up_interruptible_poll(wq, key_to_poll(key));
	return 0;
}

void mcast_relay_init(struct mcast_relay *r, struct sock *sk)
{
	init_waitqueue_func_entry(&r->entry, mcast_relay_wake);
	r->sk = sk;
	r->other_wq = NULL;
}

bool mcast_relay_connect(struct mcast_relay *r, wait_queue_head_t *other_wq)
{
	bool hooked = false;

	spin_lock(&other_wq->lock);
	if (!r->other_wq) {
		WRITE_ONCE(r->other_wq, other_wq);
		__add_wait_queue(other_wq, &r->entry);
		hooked = true;
	}
	spin_unlock(&other_wq->lock);
	return hooked;
}

/* Unhooks the relay from other_wq if it is hooked there.  The caller holds a
 * reference to the socket other_wq belongs to. */
void mcast_relay_disconnect(struct mcast_relay *r, wait_queue_head_t *other_wq)
{
	spin_lock(&other_wq->lock);
	if (r->other_wq == other_wq) {
		__remove_wait_queue(other_wq, &r->entry);
		WRITE_ONCE(r->other_wq, NULL);
	}
	spin_unlock(&other_wq->lock);
}

/* /proc/net/mcast_unix in every network namespace; the listing itself is
 * written by the Rust side (mcast_proc_show). */
int mcast_proc_show(struct seq_file *m, struct net *net);

static int mcast_proc_seq_show(struct seq_file *m, void *v)
{
	return mcast_proc_show(m, seq_file_single_net(m));
}

static __net_init int mcast_net_init(struct net *net)
{
	if (!proc_create_net_single("mcast_unix", 0444, net->proc_net, mcast_proc_seq_show, NULL))
		return -ENOMEM;
	return 0;
}

static __net_exit void mcast_net_exit(struct net *net)
{
	remove_proc_entry("mcast_unix", net->proc_net);
}

static struct pernet_operations mcast_net_ops = {
	.init = mcast_net_init,
	.exit = mcast_net_exit,
};

int mcast_proc_register(void) { return register_pernet_subsys(&mcast_net_ops); }
void mcast_proc_unregister(void) { unregister_pernet_subsys(&mcast_net_ops); }
