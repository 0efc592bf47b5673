//! What each subcommand does, with the client library.

use crate::address::proc_form;
use crate::cli::{Command, Create, Join, Print, Recv, Send, Stat, TableArgs, Wait, Watch};
use crate::table::{Listing, Show, PROC_FILE};
use mcast_unix::{Addr, RecvMeta, Socket};
use std::fmt::Display;
use std::io::{self, BufRead, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// Errors are printed as they are, after `mcastctl: `.
type Result<T> = std::result::Result<T, String>;

/// How long `join --seqpacket` and `send --seqpacket` wait for admission.
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How often /proc/net/mcast_unix is read while waiting.
const POLL: Duration = Duration::from_millis(20);
/// The largest message printed whole (longer ones are shown cut).
const BUF_LEN: usize = 64 * 1024;

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Create(c) if c.seqpacket => create_seqpacket(c),
        Command::Create(c) => create_dgram(c),
        Command::Join(j) => join(j),
        Command::Send(s) => send(s),
        Command::Recv(r) => recv(r),
        Command::Wait(w) => wait(w),
        Command::Stat(s) => stat(s),
        Command::Watch(w) => watch(w),
        Command::Bus(b) => crate::bus::daemon(b),
        Command::Call(c) => crate::bus::call(c),
        Command::Emit(e) => crate::bus::emit(e),
        Command::Monitor(m) => crate::bus::monitor(m),
    }
}

/// `what: error`, with a hint for the errors a newcomer meets first.
fn ctx<T>(r: io::Result<T>, what: impl Display) -> Result<T> {
    r.map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => {
                " (nobody holds that address: is `mcastctl create` running?)"
            }
            Some(libc::EADDRINUSE) => {
                " (taken: by another socket, or a socket file left behind that you may remove)"
            }
            Some(libc::EPROTOTYPE) => {
                " (the group is of the other type: try with or without --seqpacket)"
            }
            Some(libc::EOPNOTSUPP) => " (a seqpacket group is joined with --seqpacket)",
            _ => "",
        };
        format!("{what}: {e}{hint}")
    })
}

fn socket(seqpacket: bool) -> Result<Socket> {
    let s = if seqpacket {
        Socket::seqpacket()
    } else {
        Socket::dgram()
    };
    s.map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            format!(
                "{e}: {} is missing; is the mcast_unix module loaded?",
                mcast_unix::FAMILY_PARAM
            )
        }
        _ => format!("socket: {e}"),
    })
}

fn id(s: &Socket) -> String {
    s.id()
        .map_or_else(|e| format!("unknown: {e}"), |id| id.to_string())
}

/// Time left before `deadline` (`Ok(None)`: no deadline), `Err(())` once
/// it has passed.
fn remaining(deadline: Option<Instant>) -> std::result::Result<Option<Duration>, ()> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(()),
        },
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One received message as a line: `got "text" from ADDRESS` and what
/// `print` and the ancillary data add.
fn describe(buf: &[u8], m: &RecvMeta, print: Print) -> String {
    let data = &buf[..m.len.min(buf.len())];
    let mut line = format!("got {:?} from {}", String::from_utf8_lossy(data), m.from);
    if m.flags & libc::MSG_TRUNC != 0 {
        line += &format!(" (cut: {} bytes)", m.len);
    }
    if let (true, Some(c)) = (print.creds, m.cred) {
        line += &format!(" pid={} uid={} gid={}", c.pid, c.uid, c.gid);
    }
    if let (true, Some(id)) = (print.sender_id, m.sender_id) {
        line += &format!(" sender-id={id}");
    }
    if let Some(n) = m.dropped.filter(|&n| n > 0) {
        line += &format!(" dropped-so-far={n}");
    }
    line
}

/// Asks for the ancillary data `print` shows.
fn want_ancillary(s: &Socket, print: Print) -> Result<()> {
    if print.creds {
        ctx(s.set_passcred(true), "SO_PASSCRED")?;
    }
    if print.sender_id {
        ctx(s.set_pass_sender_id(true), "MCAST_UNIX_PASS_SENDER_ID")?;
    }
    Ok(())
}

/// Prints messages from `s` until `print.count` or, for a connection, the
/// end of it.
fn receive(s: &Socket, prefix: &str, print: Print, connection: bool) -> Result<()> {
    let mut buf = vec![0u8; BUF_LEN];
    let mut got = 0;
    while print.count.is_none_or(|n| got < n) {
        let m = ctx(s.recv_msg(&mut buf, libc::MSG_TRUNC), "receive")?;
        if connection && m.len == 0 {
            println!("{prefix}the group's owner closed the connection");
            return Ok(());
        }
        println!("{prefix}{}", describe(&buf, &m, print));
        got += 1;
    }
    Ok(())
}

fn create_dgram(c: Create) -> Result<()> {
    if c.flags.bits() != 0 {
        return Err(
            "the flags of a datagram member are its own choice: give them to `mcastctl join`"
                .into(),
        );
    }
    let owner = socket(false)?;
    ctx(
        owner.create_group(&c.address),
        format!("create {}", c.address),
    )?;
    println!(
        "owner: created datagram group {} (owner id {})",
        c.address,
        id(&owner)
    );
    // Members with --send-to-peer send the owner a copy of their messages.
    let deadline = c.duration.map(|s| Instant::now() + Duration::from_secs(s));
    let mut buf = vec![0u8; BUF_LEN];
    while let Ok(left) = remaining(deadline) {
        ctx(owner.set_read_timeout(left), "SO_RCVTIMEO")?;
        match owner.recv_msg(&mut buf, libc::MSG_TRUNC) {
            Ok(m) => println!(
                "owner: {}",
                describe(&buf, &m, Print::default()).replacen("got", "got a copy of", 1)
            ),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return ctx(Err(e), "receive"),
        }
    }
    Ok(())
}

fn create_seqpacket(c: Create) -> Result<()> {
    let owner = socket(true)?;
    ctx(
        owner.create_group(&c.address),
        format!("create {}", c.address),
    )?;
    ctx(owner.listen(64), "listen")?;
    let policy = match c.allow_uids.as_slice() {
        [] => "everyone".to_string(),
        uids => format!(
            "uid {}",
            uids.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    println!(
        "owner: created seqpacket group {} (owner id {}); admitting {policy}",
        c.address,
        id(&owner)
    );
    let deadline = c.duration.map(|s| Instant::now() + Duration::from_secs(s));
    while let Ok(left) = remaining(deadline) {
        ctx(owner.set_read_timeout(left), "SO_RCVTIMEO")?;
        let conn = match owner.accept() {
            Ok((conn, _)) => conn,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return ctx(Err(e), "accept"),
        };
        let cred = ctx(conn.peer_cred(), "SO_PEERCRED")?;
        let who = format!("pid={} uid={} gid={}", cred.pid, cred.uid, cred.gid);
        if !c.allow_uids.is_empty() && !c.allow_uids.contains(&cred.uid) {
            println!("owner: refused {who} (uid not allowed)");
            continue;
        }
        let member = conn
            .peer_id()
            .map_or_else(|_| "?".to_string(), |id| id.to_string());
        if let Err(e) = conn.admit_member(c.flags.bits()) {
            println!("owner: could not admit {who}: {e}");
            continue;
        }
        println!("owner: admitted member {member} ({who})");
        // The connection carries the copies (--send-to-peer) and tells when
        // the member leaves.
        std::thread::spawn(move || {
            let mut buf = vec![0u8; BUF_LEN];
            loop {
                match conn.recv_msg(&mut buf, libc::MSG_TRUNC) {
                    Ok(m) if m.len == 0 => break,
                    Ok(m) => println!(
                        "owner: from member {member}: {}",
                        describe(&buf, &m, Print::default()).replacen("got", "a copy of", 1)
                    ),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            println!("owner: member {member} left");
        });
    }
    Ok(())
}

/// The inode /proc/net/mcast_unix lists `s` under.
fn inode(s: &Socket) -> Result<u64> {
    let m = ctx(
        std::fs::metadata(format!("/proc/self/fd/{}", s.as_raw_fd())),
        "stat of the socket",
    )?;
    Ok(m.ino())
}

fn read_listing(file: Option<&std::path::Path>) -> Result<(String, Listing)> {
    let path = file.unwrap_or(std::path::Path::new(PROC_FILE));
    let text = std::fs::read_to_string(path).map_err(|e| match (file, e.kind()) {
        (None, io::ErrorKind::NotFound) => {
            format!("{PROC_FILE}: {e} (is the mcast_unix module loaded?)")
        }
        _ => format!("{}: {e}", path.display()),
    })?;
    let listing = Listing::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((text, listing))
}

/// Connects `s` to the seqpacket group at `a` and waits until its owner
/// admits it (the listing shows the socket as a member) or refuses it
/// (closes the connection).
fn connect_admitted(s: &Socket, a: &Addr) -> Result<()> {
    ctx(s.connect(a), format!("connect to {a}"))?;
    let ino = inode(s)?;
    let start = Instant::now();
    loop {
        let (_, l) = read_listing(None)?;
        if l.socket(ino).is_some_and(|row| row.role == "member") {
            return Ok(());
        }
        let mut byte = [0u8; 1];
        match s.recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
            Ok(0) => return Err(format!("{a}: the owner refused the connection")),
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                return Err(format!("{a}: the owner refused the connection"));
            }
            _ => {}
        }
        if start.elapsed() > ADMISSION_TIMEOUT {
            return Err(format!(
                "{a}: not admitted within {} s",
                ADMISSION_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn join(j: Join) -> Result<()> {
    let prefix = j
        .label
        .as_ref()
        .map_or_else(String::new, |l| format!("{l}: "));
    let s = socket(j.seqpacket)?;
    want_ancillary(&s, j.print)?;
    if j.seqpacket {
        if j.flags.bits() != 0 {
            return Err("the owner chooses a seqpacket member's flags: give them to `mcastctl create --seqpacket`".into());
        }
        connect_admitted(&s, &j.address)?;
        println!("{prefix}admitted to {} (member id {})", j.address, id(&s));
    } else {
        // The drop counter comes with every message once it is asked for.
        ctx(s.set_recv_overflow(true), "SO_RXQ_OVFL")?;
        ctx(
            s.join_group(&j.address, j.flags.bits()),
            format!("join {}", j.address),
        )?;
        println!("{prefix}joined {} (member id {})", j.address, id(&s));
    }
    receive(&s, &prefix, j.print, j.seqpacket)
}

fn send(a: Send) -> Result<()> {
    let s = socket(a.seqpacket)?;
    if a.seqpacket {
        connect_admitted(&s, &a.address)?;
    } else {
        let from = a.from.clone().unwrap_or_else(Addr::unnamed);
        ctx(s.bind(&from), format!("bind {from}"))?;
    }
    if !a.quiet {
        let local = s
            .local_addr()
            .map_or_else(|_| "?".to_string(), |l| l.to_string());
        println!(
            "sending to {} from {local} (sender id {})",
            a.address,
            id(&s)
        );
    }
    let one = |m: &str| -> Result<()> {
        let r = if a.seqpacket {
            s.send(m.as_bytes())
        } else {
            s.send_to(m.as_bytes(), &a.address)
        };
        ctx(r, format!("send to {}", a.address))?;
        if !a.quiet {
            println!("sent {m:?}");
        }
        Ok(())
    };
    if a.messages.is_empty() {
        for line in io::stdin().lock().lines() {
            one(&ctx(line, "standard input")?)?;
        }
    } else {
        a.messages.iter().try_for_each(|m| one(m))?;
    }
    Ok(())
}

fn recv(r: Recv) -> Result<()> {
    let s = socket(false)?;
    // Bound first: SO_PASSCRED on an unbound socket would autobind it.
    ctx(s.bind(&r.address), format!("bind {}", r.address))?;
    want_ancillary(&s, r.print)?;
    println!("listening at {} (socket id {})", r.address, id(&s));
    receive(&s, "", r.print, false)
}

fn wait(w: Wait) -> Result<()> {
    let name = proc_form(&w.address);
    let start = Instant::now();
    loop {
        let (_, l) = read_listing(None)?;
        let members = l.group(&name).map(|g| g.members);
        if members.is_some_and(|m| m >= w.members) {
            return Ok(());
        }
        if start.elapsed() >= Duration::from_secs(w.timeout) {
            let now = members.map_or_else(
                || "does not exist".to_string(),
                |m| format!("has {m} members"),
            );
            return Err(format!(
                "{name}: waited {} s for {} members; the group {now}",
                w.timeout, w.members
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn show(t: &TableArgs) -> Show {
    match (t.sockets, t.groups) {
        (true, _) => Show::Sockets,
        (_, true) => Show::Groups,
        _ => Show::All,
    }
}

fn stat(s: Stat) -> Result<()> {
    let (text, listing) = read_listing(s.table.file.as_deref())?;
    if s.raw {
        print!("{text}");
    } else {
        print!("{}", listing.render(show(&s.table)));
    }
    Ok(())
}

fn watch(w: Watch) -> Result<()> {
    let tty = io::stdout().is_terminal();
    let start = Instant::now();
    let mut n = 0;
    loop {
        let (_, listing) = read_listing(w.table.file.as_deref())?;
        let mut out = String::new();
        if tty {
            // Home and clear the screen.
            out += "\x1b[H\x1b[2J";
        } else if n > 0 {
            out.push('\n');
        }
        out += &format!(
            "mcastctl watch: every {} ms, at {:.1} s (Ctrl-C to stop)\n\n",
            w.interval,
            start.elapsed().as_secs_f64()
        );
        out += &listing.render(show(&w.table));
        let mut stdout = io::stdout().lock();
        ctx(
            stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush()),
            "standard output",
        )?;
        n += 1;
        if w.count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(w.interval));
    }
}
