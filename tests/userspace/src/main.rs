//! Userspace tests of mcast_unix, run inside the test VM (qemu/run) as a
//! static binary. Prints TAP; exits non-zero if any case fails.
//!
//! Usage: mcast-tests [FILTER]

mod family;
mod harness;
mod sys;

fn main() {
    let af = match mcast_unix::family() {
        Ok(af) => af,
        Err(e) => {
            println!("1..1\nnot ok 1 - the module is loaded\n# {}: {e}", mcast_unix::FAMILY_PARAM);
            std::process::exit(1);
        }
    };
    // Room for the many-sockets cases.
    let lim = libc::rlimit { rlim_cur: 65536, rlim_max: 65536 };
    // SAFETY: plain syscall with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let mut cases = Vec::new();
    cases.extend(family::cases(af));
    let filter = std::env::args().nth(1);
    let failed = harness::run(cases, filter.as_deref());
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
