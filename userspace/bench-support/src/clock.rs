//! Clocks in nanoseconds: the monotonic time that messages carry, and CPU
//! time of the calling thread, of this process, of another thread of this
//! process, and of other processes (the daemons).

use std::io;

/// Reads `clock` (any clock id clock_gettime takes) in nanoseconds.
pub fn clock_of(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC in nanoseconds (the timestamp messages carry).
pub fn mono_ns() -> u64 {
    clock_of(libc::CLOCK_MONOTONIC)
}

/// CPU time of the calling thread in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    clock_of(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of this process (all its threads) in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    clock_of(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The CPU-time clock of another thread of this process, to read with
/// [`clock_of`].
pub fn thread_clock(t: libc::pthread_t) -> io::Result<libc::clockid_t> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: `t` is a live thread of this process (its JoinHandle is held
    // by the caller); `id` is valid to write to.
    let r = unsafe { libc::pthread_getcpuclockid(t, &mut id) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(id)
}

/// The CPU-time clocks of other processes, read together.
pub struct ProcessClocks(Vec<libc::clockid_t>);

impl ProcessClocks {
    /// The clocks of `pids` (this program's children).
    pub fn new(pids: &[libc::pid_t]) -> io::Result<ProcessClocks> {
        let mut v = Vec::new();
        for &pid in pids {
            let mut id: libc::clockid_t = 0;
            // SAFETY: `id` is valid to write to.
            let r = unsafe { libc::clock_getcpuclockid(pid, &mut id) };
            if r != 0 {
                return Err(io::Error::from_raw_os_error(r));
            }
            v.push(id);
        }
        Ok(ProcessClocks(v))
    }

    /// Their CPU time summed, in nanoseconds.
    pub fn sum_ns(&self) -> u64 {
        self.0.iter().map(|&c| clock_of(c)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until the calling thread has used `ns` of CPU (or 10 s of
    /// wall time have passed on a busy host); returns the CPU time used.
    fn burn(ns: u64) -> u64 {
        let (t0, w0) = (thread_cpu_ns(), mono_ns());
        let mut x = 0u64;
        while thread_cpu_ns() - t0 < ns && mono_ns() - w0 < 10_000_000_000 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        thread_cpu_ns() - t0
    }

    #[test]
    fn own_process_clock_advances_with_work() {
        let c = ProcessClocks::new(&[std::process::id() as libc::pid_t]).unwrap();
        let a = c.sum_ns();
        // 5 ms of this thread's CPU.
        let spent = burn(5_000_000);
        assert!(spent >= 5_000_000);
        // The process's clock, read after, counts at least this thread's.
        assert!(c.sum_ns() - a >= spent);
        assert!(thread_cpu_ns() <= process_cpu_ns());
    }

    #[test]
    fn another_threads_clock_counts_its_work_not_ours() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let spent = burn(5_000_000);
            tx.send(spent).unwrap();
            // Alive until the clock has been read.
            done_rx.recv().unwrap();
        });
        let spent = rx.recv().unwrap();
        let id = thread_clock(std::os::unix::thread::JoinHandleExt::as_pthread_t(&worker)).unwrap();
        let read = clock_of(id);
        done_tx.send(()).unwrap();
        worker.join().unwrap();
        assert!(spent >= 5_000_000);
        assert!(read >= spent, "the worker's clock read {read} ns after it used {spent} ns");
        // This thread only waited.
        assert!(thread_cpu_ns() < read);
    }

    #[test]
    fn monotonic_clock_does_not_go_back() {
        let a = mono_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = mono_ns();
        assert!(b - a >= 2_000_000);
    }
}
