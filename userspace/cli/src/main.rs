//! `mcast`: try multicast Unix-domain sockets from a shell.
//!
//! ```text
//! mcast create ADDR [SECONDS]          create a datagram group and hold it
//! mcast sub ADDR NAME [COUNT] [drop]   join, print COUNT messages (default 1)
//! mcast pub ADDR MESSAGE...            send each MESSAGE to the group
//! mcast wait ADDR MEMBERS              wait until the group has MEMBERS members
//! mcast list                           print /proc/net/mcast_unix
//! ```
//!
//! ADDR is `@name` for an abstract address, anything else is a path.

use mcast_unix::{Addr, Socket, MCAST_UNIX_DROP_WHEN_FULL};
use std::io;
use std::time::{Duration, Instant};

fn addr(s: &str) -> io::Result<Addr> {
    match s.strip_prefix('@') {
        Some(name) => Addr::abstract_(name),
        None => Addr::path(s),
    }
}

fn usage() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "usage: mcast create ADDR [SECONDS] | sub ADDR NAME [COUNT] [drop] | pub ADDR MESSAGE... | wait ADDR MEMBERS | list",
    )
}

fn number(s: Option<&String>, default: u64) -> io::Result<u64> {
    s.map_or(Ok(default), |s| s.parse().map_err(|_| usage()))
}

/// Members of the group at `a`, from /proc/net/mcast_unix.
fn members(a: &Addr) -> Option<u64> {
    let shown = a.to_string();
    std::fs::read_to_string("/proc/net/mcast_unix").ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&"G") && f.get(1) == Some(&shown.as_str())).then(|| f.get(3)?.parse().ok()).flatten()
    })
}

fn run(args: &[String]) -> io::Result<()> {
    let cmd = args.first().ok_or_else(usage)?;
    match cmd.as_str() {
        "create" => {
            let a = addr(args.get(1).ok_or_else(usage)?)?;
            let owner = Socket::dgram()?;
            owner.create_group(&a)?;
            println!("owner: created group {a}");
            std::thread::sleep(Duration::from_secs(number(args.get(2), 3600)?));
            Ok(())
        }
        "sub" => {
            let a = addr(args.get(1).ok_or_else(usage)?)?;
            let name = args.get(2).ok_or_else(usage)?;
            let count = number(args.get(3), 1)?;
            let flags = if args.get(4).map(String::as_str) == Some("drop") { MCAST_UNIX_DROP_WHEN_FULL } else { 0 };
            let s = Socket::dgram()?;
            s.join_group(&a, flags)?;
            let mut buf = [0u8; 4096];
            for _ in 0..count {
                let (n, from) = s.recv_from(&mut buf)?;
                println!("{name}: got {:?} from {from}", String::from_utf8_lossy(&buf[..n]));
            }
            Ok(())
        }
        "pub" => {
            let a = addr(args.get(1).ok_or_else(usage)?)?;
            let s = Socket::dgram()?;
            s.bind(&Addr::unnamed())?;
            for m in &args[2..] {
                s.send_to(m.as_bytes(), &a)?;
                println!("publisher {}: sent {m:?}", s.local_addr()?);
            }
            Ok(())
        }
        "wait" => {
            let a = addr(args.get(1).ok_or_else(usage)?)?;
            let want = number(args.get(2), 1)?;
            let start = Instant::now();
            while members(&a) != Some(want) {
                if start.elapsed() > Duration::from_secs(60) {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "members did not join"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        "list" => {
            print!("{}", std::fs::read_to_string("/proc/net/mcast_unix")?);
            Ok(())
        }
        _ => Err(usage()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("mcast: {e}");
        std::process::exit(1);
    }
}
