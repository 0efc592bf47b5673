//! Test helpers: a small deterministic random generator and the host
//! kernel's socket filters (on `AF_UNIX`) as an oracle.

use crate::{Addr, Program, Socket};
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

/// xorshift64*: fixed seeds, so failures reproduce.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability 1/n.
    pub(crate) fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A random number (below `len_below`) of bytes drawn from `0..=max`.
    pub(crate) fn bytes(&mut self, len_below: usize, max: u8) -> Vec<u8> {
        let len = self.below(len_below);
        (0..len).map(|_| self.below(usize::from(max) + 1) as u8).collect()
    }
}

/// A unique abstract name for a test socket.
pub(crate) fn unique_addr(tag: &str) -> Addr {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    Addr::abstract_(format!("mcast-unix-test-{}-{tag}-{n}", std::process::id())).unwrap()
}

/// A receiving `AF_UNIX` datagram socket whose attached filter the host
/// kernel runs on what a second socket sends it.
pub(crate) struct HostFilter {
    tx: Socket,
    rx: Socket,
    name: Addr,
}

impl HostFilter {
    pub(crate) fn new() -> HostFilter {
        let tx = Socket::dgram_in(libc::AF_UNIX).unwrap();
        let rx = Socket::dgram_in(libc::AF_UNIX).unwrap();
        let name = unique_addr("filter");
        rx.bind(&name).unwrap();
        rx.set_nonblocking(true).unwrap();
        HostFilter { tx, rx, name }
    }

    /// SO_ATTACH_FILTER (replacing the previous program).
    pub(crate) fn attach(&self, prog: &Program) -> io::Result<()> {
        self.rx.attach_filter(prog)
    }

    /// Sends `msg` and says how much of it the receiver got, if anything.
    /// Unix datagrams are queued (or dropped by the filter) within sendto().
    pub(crate) fn deliver(&self, msg: &[u8]) -> Option<usize> {
        assert_eq!(self.tx.send_to(msg, &self.name).unwrap(), msg.len());
        let mut buf = [0u8; 256];
        match self.rx.recv(&mut buf) {
            Ok(n) => {
                assert_eq!(buf[..n], msg[..n], "the kernel keeps a prefix");
                Some(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("recv: {e}"),
        }
    }
}
