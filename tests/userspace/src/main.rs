//! Userspace tests of mcast_unix, run inside the test VM (qemu/run) as a
//! static binary. Prints TAP; exits non-zero if any case fails.
//!
//! Usage: mcast-tests [--oracle] [FILTER]
//!   --oracle   run only the differential cases, with AF_UNIX on both sides
//!              (checks the scenarios themselves; needs no module)
//!   FILTER     run the cases whose name contains FILTER

mod diff;
mod family;
mod filters;
mod groups;
mod harness;
mod hostile;
mod mcast;
mod seqgroups;
mod sys;
mod unicast;

use diff::Mode;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let oracle = args.first().is_some_and(|a| a == "--oracle");
    if oracle {
        args.remove(0);
    }
    // Room for the many-sockets cases.
    let lim = libc::rlimit { rlim_cur: 65536, rlim_max: 65536 };
    // SAFETY: plain syscall with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };

    let mut cases = Vec::new();
    if oracle {
        cases.extend(unicast::cases(Mode::OracleOnly));
    } else {
        let af = match mcast_unix::family() {
            Ok(af) => af,
            Err(e) => {
                println!("1..1\nnot ok 1 - the module is loaded\n# {}: {e}", mcast_unix::FAMILY_PARAM);
                std::process::exit(1);
            }
        };
        cases.extend(family::cases(af));
        cases.extend(unicast::cases(Mode::Against(af)));
        cases.extend(groups::cases(af));
        cases.extend(seqgroups::cases(af));
        cases.extend(filters::cases(af));
        cases.extend(hostile::cases(af));
    }
    let failed = harness::run(cases, args.first().map(String::as_str));
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
