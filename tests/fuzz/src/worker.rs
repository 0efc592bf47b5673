//! A worker process: drops privileges if asked, runs its fuzzing threads and
//! a watchdog that interrupts calls which wait too long.

use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::Duration;

use crate::ops::{self, Ctx, Env, Skip, OPS};
use crate::shared::{Shared, T_DONE, T_PANICKED, T_RUNNING};
use crate::sys;

/// A call still running after this long is interrupted with SIGUSR1 (and
/// again every as long): the no-op handler has no SA_RESTART, so a waiting
/// call returns EINTR. Only calls that sleep interruptibly notice; one that
/// spins in the kernel is a kernel bug the supervisor reports.
const KICK_MS: u64 = 200;

pub struct WorkerCfg {
    pub family: i32,
    pub skip: Skip,
    pub privileged: bool,
    pub seed: u64,
    /// Global index of the first thread, and how many.
    pub first: usize,
    pub count: usize,
    pub bpf_progs: Vec<i32>,
}

/// The user the unprivileged worker runs as (nobody).
pub const NOBODY: u32 = 65534;

fn drop_privileges() -> std::io::Result<()> {
    // SAFETY: calls on this process's credentials; the process has one thread.
    let ok =
        unsafe { libc::setgroups(0, std::ptr::null()) == 0 && libc::setgid(NOBODY) == 0 && libc::setuid(NOBODY) == 0 };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Runs in the forked child; returns its exit status.
pub fn run(shared: &'static Shared, cfg: WorkerCfg) -> i32 {
    if !cfg.privileged && sys::getuid() == 0 {
        if let Err(e) = drop_privileges() {
            eprintln!("mcast-fuzz: cannot become uid {NOBODY}: {e}");
            return 3;
        }
    }
    // Die with the supervisor (set after the uid change, which clears it).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let env: &'static Env = Box::leak(Box::new(Env {
        family: cfg.family,
        skip: cfg.skip,
        pid: sys::getpid(),
        uid: sys::getuid(),
        gid: sys::getgid(),
        bpf_progs: cfg.bpf_progs,
        unmapped: sys::reserve_unmapped(64 << 10),
    }));
    // Every descriptor the fuzzer keeps for itself exists before the first
    // pool descriptor, so no slot ever holds (and closes) one of them.
    let epfds: Vec<i32> =
        (0..cfg.count).map(|_| sys::epoll_create1(libc::EPOLL_CLOEXEC).map_or(-1, |fd| fd as i32)).collect();
    let mut handles = Vec::new();
    for (k, &epfd) in epfds.iter().enumerate() {
        let i = cfg.first + k;
        let seed = cfg.seed.wrapping_add(i as u64);
        let h = thread::Builder::new().name(format!("fz-{i}")).spawn(move || fuzz(i, seed, env, shared, epfd));
        match h {
            Ok(h) => handles.push((i, h)),
            Err(e) => {
                eprintln!("mcast-fuzz: thread {i}: {e}");
                shared.threads[i].state.store(T_PANICKED, Relaxed);
            }
        }
    }
    let range = cfg.first..cfg.first + cfg.count;
    let wd = thread::Builder::new().name("fz-watchdog".into()).spawn(move || watchdog(shared, range));
    for (_, h) in handles {
        let _ = h.join();
    }
    if let Ok(wd) = wd {
        let _ = wd.join();
    }
    0
}

/// One fuzzing thread. It records its own end (done or panicked): the
/// process joins its threads in order, and one stuck in the kernel would
/// hide the others' ends.
fn fuzz(i: usize, seed: u64, env: &'static Env, shared: &'static Shared, epfd: i32) {
    let st = &shared.threads[i];
    st.tid.store(sys::gettid(), Relaxed);
    st.state.store(T_RUNNING, Relaxed);
    let r = std::panic::catch_unwind(|| fuzz_loop(i, seed, env, shared, epfd));
    st.busy_since.store(0, Relaxed);
    st.state.store(if r.is_ok() { T_DONE } else { T_PANICKED }, Relaxed);
}

/// Claims operations from the shared budget until it is used up or the
/// supervisor says stop.
fn fuzz_loop(i: usize, seed: u64, env: &'static Env, shared: &'static Shared, epfd: i32) {
    let st = &shared.threads[i];
    let mut ctx = Ctx::new(seed, env, shared, epfd);
    let weights = ops::weights();
    let target = shared.target.load(Relaxed);
    while !shared.stop.load(Relaxed) {
        if shared.pause.load(Relaxed) {
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        if shared.claimed.fetch_add(1, Relaxed) >= target {
            break;
        }
        let k = ctx.rng.weighted(&weights);
        st.op.store(k as u32, Relaxed);
        st.busy_since.store(sys::now_ms().max(1), Relaxed);
        (OPS[k].run)(&mut ctx);
        st.busy_since.store(0, Relaxed);
        st.ops.fetch_add(1, Relaxed);
    }
}

/// Interrupts this process's threads whose current call has run for
/// `KICK_MS`; ends when none of them runs any more.
fn watchdog(shared: &'static Shared, range: std::ops::Range<usize>) {
    let pid = sys::getpid();
    let mut last = vec![0u64; range.len()];
    loop {
        thread::sleep(Duration::from_millis(20));
        let now = sys::now_ms();
        let mut alive = 0;
        for (k, i) in range.clone().enumerate() {
            let st = &shared.threads[i];
            let state = st.state.load(Relaxed);
            if state == T_DONE || state == T_PANICKED {
                continue;
            }
            alive += 1;
            let since = st.busy_since.load(Relaxed);
            if since != 0 && now.saturating_sub(since) >= KICK_MS && now.saturating_sub(last[k]) >= KICK_MS {
                let _ = sys::tgkill(pid, st.tid.load(Relaxed), libc::SIGUSR1);
                st.kicks.fetch_add(1, Relaxed);
                let op = st.op.load(Relaxed) as usize;
                if let Some(k) = shared.kicks_by_op.get(op) {
                    k.fetch_add(1, Relaxed);
                }
                last[k] = now;
            }
        }
        if alive == 0 {
            return;
        }
    }
}
