//! Userspace tests of mcast_unix, run inside the test VM (qemu/run) as a
//! static binary. Prints TAP; exits non-zero if any case fails.
//!
//! ```text
//! Usage: mcast-tests [--oracle] [FILTER]
//!        mcast-tests --print-matrix
//!   --oracle        run only the differential cases and the AF_UNIX column of
//!                   the bad-input table, on AF_UNIX alone (checks the
//!                   scenarios themselves; needs no module)
//!   --print-matrix  print the bad-input table as markdown (the section of
//!                   Documentation/mcast_unix.md) and exit
//!   FILTER          run the cases whose name contains FILTER
//! ```
//!
//! Environment: MATRIX_SKIP_WEDGE=1 skips the bad-input rows whose control
//! buffer starts with cmsg_len 0 (see badinput.rs).

mod asyncio;
mod badinput;
mod bus;
mod bus_hostile;
mod client;
mod diff;
mod family;
mod fds;
mod faults;
mod filters;
mod groups;
mod harness;
mod hostile;
mod identity;
mod mcast;
mod ring;
mod ringmap;
mod seqgroups;
mod sys;
mod testbus;
mod typed;
mod unicast;

use diff::Mode;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--print-matrix") {
        print!("{}", badinput::markdown());
        return;
    }
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
        cases.extend(badinput::oracle_cases());
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
        cases.extend(identity::cases(af));
        cases.extend(typed::cases(af));
        cases.extend(asyncio::cases(af));
        cases.extend(fds::cases(af));
        cases.extend(filters::cases(af));
        cases.extend(hostile::cases(af));
        cases.extend(ring::cases(af));
        cases.extend(bus::cases(af));
        cases.extend(bus_hostile::cases(af));
        cases.extend(badinput::cases(af));
        // Last: it ends by unloading and reloading the module.
        cases.extend(faults::cases(af));
    }
    let failed = harness::run(cases, args.first().map(String::as_str));
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
