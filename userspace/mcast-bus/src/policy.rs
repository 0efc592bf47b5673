//! [`Policy`]: who may connect to the bus and who may monitor it, decided
//! from the connecting process's `SO_PEERCRED`.

/// The admission policy.
///
/// A connection is admitted if its uid is root's, the daemon's, or one of
/// [`allow_uids`](Policy::allow_uids), or its gid one of
/// [`allow_gids`](Policy::allow_gids). Only root and the daemon's uid may
/// become monitors (a monitor receives every message on the bus).
///
/// ```
/// use mcast_bus::Policy;
/// let p = Policy { daemon_uid: 1000, allow_uids: vec![1001], allow_gids: vec![50] };
/// let cred = |uid, gid| libc::ucred { pid: 1, uid, gid };
/// assert!(p.admits(&cred(0, 0)));
/// assert!(p.admits(&cred(1000, 1000)));
/// assert!(p.admits(&cred(1001, 1001)));
/// assert!(p.admits(&cred(1002, 50)));
/// assert!(!p.admits(&cred(65534, 65534)));
/// assert!(!p.may_monitor(&cred(1001, 1001)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The daemon's own uid (always admitted).
    pub daemon_uid: u32,
    /// More uids to admit.
    pub allow_uids: Vec<u32>,
    /// Gids whose members are admitted.
    pub allow_gids: Vec<u32>,
}

impl Policy {
    /// The default policy of a daemon running as `daemon_uid`: root and
    /// that uid.
    pub fn for_daemon(daemon_uid: u32) -> Policy {
        Policy { daemon_uid, ..Policy::default() }
    }

    /// Whether a process with these credentials may connect.
    pub fn admits(&self, cred: &libc::ucred) -> bool {
        cred.uid == 0 || cred.uid == self.daemon_uid || self.allow_uids.contains(&cred.uid) || self.allow_gids.contains(&cred.gid)
    }

    /// Whether it may become a monitor.
    pub fn may_monitor(&self, cred: &libc::ucred) -> bool {
        cred.uid == 0 || cred.uid == self.daemon_uid
    }
}
