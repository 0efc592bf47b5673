//! State shared by every process of a run: the operation budget, the stop
//! flag, per-thread progress (for the watchdogs and the supervisor) and the
//! per-call result counters. It lives in one anonymous shared mapping made
//! before the worker processes fork, so all of them count into the same place
//! with plain atomics.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::sys::SysResult;

/// More threads than anyone needs on a two-CPU VM.
pub const MAX_THREADS: usize = 64;
/// Room for the operation table.
pub const MAX_OPS: usize = 64;
/// errno 1..=133 each have a counter; 0 counts successes; the last one the rest.
pub const NERRNO: usize = 135;

/// Declares the kinds of calls counted separately, with their names.
macro_rules! calls {
    ($($v:ident => $name:literal,)*) => {
        /// One row of the result counters: a system call, or a system call in
        /// a role that matters for reaching deep states (e.g. a `sendto` to a
        /// known group address is `GroupSend`, not `Sendto`).
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(u32)]
        pub enum Call { $($v),* }
        impl Call {
            pub const ALL: &'static [Call] = &[$(Call::$v),*];
            pub fn name(self) -> &'static str {
                match self { $(Call::$v => $name),* }
            }
        }
    };
}

calls! {
    Socket => "socket",
    Socketpair => "socketpair",
    Close => "close",
    Dup => "dup",
    Fcntl => "fcntl",
    Bind => "bind",
    Connect => "connect",
    Listen => "listen",
    Accept => "accept",
    Shutdown => "shutdown",
    Sendto => "sendto",
    Sendmsg => "sendmsg",
    Sendmmsg => "sendmmsg",
    Write => "write",
    Recvmsg => "recvmsg",
    Recvmmsg => "recvmmsg",
    Read => "read",
    SetMcast => "setsockopt-mcast",
    GetMcast => "getsockopt-mcast",
    SetSol => "setsockopt-socket",
    GetSol => "getsockopt-socket",
    SetOther => "sockopt-other-level",
    Ioctl => "ioctl",
    Poll => "poll",
    Epoll => "epoll",
    Getname => "getsockname/peername",
    Fs => "unlink/chmod",
    Create => "group-create",
    GroupListen => "group-listen",
    Join => "group-join",
    Leave => "group-leave",
    ConnectGroup => "group-connect",
    GroupAccept => "group-accept",
    Admit => "group-admit",
    PeerFilter => "group-peer-filter",
    GroupSend => "group-send",
    ConnSend => "connected-send",
    MemberSend => "member-send",
    Drain => "drain-recv",
    RingSet => "ring-set",
    RingGet => "ring-get",
    Mmap => "ring-mmap",
    Munmap => "ring-munmap",
    Mremap => "ring-mremap",
    RingScribble => "ring-scribble",
    RingConsume => "ring-consume",
    RingPoll => "ring-poll",
}

pub const NCALLS: usize = Call::ALL.len();

/// Thread states (0: not started yet).
pub const T_RUNNING: u32 = 1;
pub const T_DONE: u32 = 2;
pub const T_PANICKED: u32 = 3;

/// What the supervisor and the watchdog know about one fuzzing thread.
#[repr(C)]
pub struct ThreadState {
    pub state: AtomicU32,
    pub tid: AtomicI32,
    /// `now_ms()` when the current operation started; 0 between operations.
    pub busy_since: AtomicU64,
    /// Index of the current operation in the operation table.
    pub op: AtomicU32,
    /// Operations completed.
    pub ops: AtomicU64,
    /// Times the watchdog interrupted this thread.
    pub kicks: AtomicU64,
}

#[repr(C)]
pub struct Shared {
    /// Operations claimed so far (may overshoot the target by one per thread).
    pub claimed: AtomicU64,
    pub target: AtomicU64,
    pub stop: AtomicBool,
    /// Set while some thread's call has been running for a long time: the
    /// others wait, so that a call spinning in the kernel leaves the other
    /// CPU to the rest of the run (the test kernel does not preempt).
    pub pause: AtomicBool,
    pub threads: [ThreadState; MAX_THREADS],
    /// Watchdog interruptions per operation (index into the table).
    pub kicks_by_op: [AtomicU64; MAX_OPS],
    pub counts: [[AtomicU64; NERRNO]; NCALLS],
    /// Receive-ring frames taken by the threads' readers.
    pub frames: AtomicU64,
}

impl Shared {
    /// Maps the shared state; the mapping stays for the life of the process
    /// and is inherited (shared, not copied) by forked children.
    pub fn map() -> &'static Shared {
        let size = std::mem::size_of::<Shared>();
        // SAFETY: a new anonymous shared mapping; no existing memory changes.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        // SAFETY: the mapping is page-aligned, large enough, zero-filled (all
        // zero bits are a valid Shared: atomics holding 0 and false), only ever
        // accessed through atomics, and never unmapped.
        unsafe { &*p.cast::<Shared>() }
    }

    pub fn record(&self, call: Call, r: SysResult) {
        let col = match r {
            Ok(_) => 0,
            Err(e) if (1..NERRNO as i32 - 1).contains(&e) => e as usize,
            Err(_) => NERRNO - 1,
        };
        self.counts[call as usize][col].fetch_add(1, Relaxed);
    }

    pub fn count(&self, call: Call, col: usize) -> u64 {
        self.counts[call as usize][col].load(Relaxed)
    }

    pub fn total(&self, call: Call) -> u64 {
        self.counts[call as usize].iter().map(|c| c.load(Relaxed)).sum()
    }
}

/// The errno's name (`E123` for ones not listed).
pub fn errno_name(col: usize) -> String {
    test_support::errno::name(col as i32).map_or_else(|| format!("E{col}"), str::to_string)
}
