//! Clocks: the monotonic time messages carry, and CPU time of this thread,
//! this process and other processes (the daemons).

use std::io;

fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn mono_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// CPU time of the calling thread in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of this process (all its threads) in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    read(libc::CLOCK_PROCESS_CPUTIME_ID)
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
        self.0.iter().map(|&c| read(c)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_clock_advances_with_work() {
        let c = ProcessClocks::new(&[std::process::id() as libc::pid_t]).unwrap();
        let a = c.sum_ns();
        let (t0, w0) = (thread_cpu_ns(), mono_ns());
        let mut x = 0u64;
        // 5 ms of this thread's CPU (a busy host may take longer to give it).
        while thread_cpu_ns() - t0 < 5_000_000 && mono_ns() - w0 < 10_000_000_000 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        let spent = thread_cpu_ns() - t0;
        assert!(spent >= 5_000_000);
        // The process's clock, read after, counts at least this thread's.
        assert!(c.sum_ns() - a >= spent);
        assert!(thread_cpu_ns() <= process_cpu_ns());
    }
}
