//! Unicast behaviour, differential against AF_UNIX (contract: "Sockets and
//! addresses"). Each case runs on AF_UNIX and on the family; see diff.rs.
//!
//! The cases are grouped by topic in the submodules; this file holds the
//! helpers they share: case constructors, the usual socket arrangements and
//! family-independent forms of addresses, flags and poll events.

mod connect;
mod data;
mod names;
mod options;
mod poll;
mod seqpacket;

use crate::diff::{case, Fam, Mode, Obs};
use mcast_unix::Socket;
use crate::harness::{Case, CaseResult};
use crate::client;
use crate::sys::{self, IntoSys, Ctx, Received, SockAddr, SysResult};
use mcast_unix::{Addr, RecvMeta};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub fn cases(mode: Mode) -> Vec<Case> {
    [names::cases, connect::cases, data::cases, seqpacket::cases, options::cases, poll::cases]
        .iter()
        .flat_map(|topic| topic(mode))
        .collect()
}

const DGRAM: i32 = libc::SOCK_DGRAM;
const SEQPACKET: i32 = libc::SOCK_SEQPACKET;

/// Result type of helpers: the error is the case's failure message.
type R<T> = Result<T, String>;

/// A scenario parameterised by the socket type.
type Scenario = fn(&Fam, &mut Obs, i32) -> CaseResult;

fn type_name(ty: i32) -> &'static str {
    if ty == DGRAM {
        "dgram"
    } else {
        "seqpacket"
    }
}

/// The same scenario once per socket type: "dgram: NAME" and "seqpacket: NAME".
fn per_type(mode: Mode, name: &str, scenario: Scenario) -> Vec<Case> {
    [DGRAM, SEQPACKET]
        .into_iter()
        .map(|ty| case(mode, &format!("{}: {name}", type_name(ty)), move |f, o| scenario(f, o, ty)))
        .collect()
}

/// The other socket type.
fn other_type(ty: i32) -> i32 {
    if ty == DGRAM {
        SEQPACKET
    } else {
        DGRAM
    }
}

fn sock(f: &Fam, ty: i32) -> R<Socket> {
    f.socket(ty).ctx("socket")
}

fn bound(f: &Fam, ty: i32, a: &Addr) -> R<Socket> {
    let s = sock(f, ty)?;
    s.bind(a).sys().ctx("bind")?;
    Ok(s)
}

/// A seqpacket socket bound to `DIR/name` and listening (backlog 8).
fn listener(f: &Fam, name: &str) -> R<(Socket, Addr)> {
    let a = f.path(name);
    let l = bound(f, SEQPACKET, &a)?;
    l.listen(8).sys().ctx("listen")?;
    Ok((l, a))
}

/// A seqpacket client connected to `l` (listening at `a`) and the accepted socket.
fn connect_accept(f: &Fam, l: &Socket, a: &Addr) -> R<(Socket, Socket)> {
    let c = sock(f, SEQPACKET)?;
    c.connect(a).sys().ctx("connect")?;
    let (s, _) = l.accept().sys().ctx("accept")?;
    Ok((c, s))
}

/// Connected seqpacket sockets (client, accepted server end) through a
/// listener at `DIR/name`, which is closed again.
fn seq_pair(f: &Fam, name: &str) -> R<(Socket, Socket)> {
    let (l, a) = listener(f, name)?;
    connect_accept(f, &l, &a)
}

/// Two sockets of type `ty` where what `.0` sends without an address arrives
/// at `.1`: for dgram an unbound socket connected to one bound at `DIR/name`,
/// for seqpacket a client and its accepted peer.
fn channel(f: &Fam, ty: i32, name: &str) -> R<(Socket, Socket)> {
    if ty == SEQPACKET {
        return seq_pair(f, name);
    }
    let rx = bound(f, DGRAM, &f.path(name))?;
    let tx = sock(f, DGRAM)?;
    tx.connect(&f.path(name)).sys().ctx("connect")?;
    Ok((tx, rx))
}

/// A path under the run's directory, for std::fs.
fn fs_path(f: &Fam, name: &str) -> String {
    format!("{}/{}", f.dir, name)
}

fn io<T>(r: std::io::Result<T>, what: &str) -> R<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Lets a child running as nobody reach names in the run's directory
/// (whatever the umask was), without letting it create any.
fn searchable(f: &Fam) -> R<()> {
    chmod(f, "", 0o755)
}

/// Sets the permission bits of `DIR/name`.
fn chmod(f: &Fam, name: &str, mode: u32) -> R<()> {
    use std::os::unix::fs::PermissionsExt;
    io(std::fs::set_permissions(fs_path(f, name), std::fs::Permissions::from_mode(mode)), "chmod")
}

fn exists(f: &Fam, name: &str) -> bool {
    std::fs::symlink_metadata(fs_path(f, name)).is_ok()
}

/// An address as observed, family-independently: its text and length, plus a
/// remark if sun_family is not the family's. Autobind names (a NUL and five
/// hex digits, random) show as `@<autobind>`.
fn show(f: &Fam, a: &SockAddr) -> String {
    let b = a.bytes();
    let text = if a.len == 8 && b[0] == 0 && b[1..].iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
        "@<autobind>(len 8)".to_string()
    } else {
        format!("{a:?}")
    };
    if a.len >= 2 && i32::from(a.sun.sun_family) != f.af {
        format!("{text} sun_family {}", a.sun.sun_family)
    } else {
        text
    }
}

fn sockname(f: &Fam, fd: &Socket) -> SysResult<String> {
    sys::getsockname(fd).map(|a| show(f, &a))
}

fn peername(f: &Fam, fd: &Socket) -> SysResult<String> {
    sys::getpeername(fd).map(|a| show(f, &a))
}

/// recvfrom() as observed: return value, data as text, sender.
fn recv_from(f: &Fam, fd: &Socket, cap: usize, flags: i32) -> SysResult<(usize, String, String)> {
    sys::recvfrom(fd, cap, flags).map(|(n, d, a)| (n, String::from_utf8_lossy(&d).into_owned(), show(f, &a)))
}

/// recv() of up to 256 bytes, as text.
fn recv_text(fd: &Socket, flags: i32) -> SysResult<String> {
    client::recv(fd, 256, flags).map(|d| String::from_utf8_lossy(&d).into_owned())
}

/// A received message as observed (credentials and descriptors left out).
fn message(f: &Fam, m: &Received) -> String {
    format!(
        "ret {} data {:?} from {} flags {}",
        m.ret,
        String::from_utf8_lossy(&m.data),
        show(f, &m.from),
        msg_flags(m.flags)
    )
}

/// An address the library reports, as observed (autobind names, random,
/// show as `@<autobind>`).
fn shown(a: &Addr) -> String {
    match a.as_abstract() {
        Some(n) if n.len() == 5 && n.iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) => "@<autobind>".into(),
        _ => a.to_string(),
    }
}

/// A message the library's recv_msg() put into `buf`, as observed
/// (credentials and descriptors left out).
fn meta(buf: &[u8], m: &RecvMeta) -> String {
    let data = &buf[..m.len.min(buf.len())];
    format!("ret {} data {:?} from {} flags {}", m.len, String::from_utf8_lossy(data), shown(&m.from), msg_flags(m.flags))
}

/// The library's recv_msg() into 256 bytes, as observed.
fn recv_meta(fd: &Socket, flags: i32) -> SysResult<String> {
    let mut buf = [0u8; 256];
    fd.recv_msg(&mut buf, flags).sys().map(|m| meta(&buf, &m))
}

/// A recvmsg() result as observed.
fn received(f: &Fam, r: &SysResult<Received>) -> SysResult<String> {
    r.as_ref().map(|m| message(f, m)).map_err(|e| *e)
}

/// Names of the bits set in `bits`, from `table`, with any rest in hex.
fn bit_names(bits: i64, table: &[(i64, &str)]) -> String {
    let mut names: Vec<String> = table.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| n.to_string()).collect();
    let rest = table.iter().fold(bits, |r, (b, _)| r & !b);
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

fn msg_flags(flags: i32) -> String {
    let table = [
        (libc::MSG_OOB, "OOB"),
        (libc::MSG_CTRUNC, "CTRUNC"),
        (libc::MSG_TRUNC, "TRUNC"),
        (libc::MSG_EOR, "EOR"),
        (libc::MSG_ERRQUEUE, "ERRQUEUE"),
        (libc::MSG_CMSG_CLOEXEC, "CMSG_CLOEXEC"),
    ];
    bit_names(i64::from(flags), &table.map(|(b, n)| (i64::from(b), n)))
}

/// poll()/epoll event bits by name.
fn events(ev: u32) -> String {
    let table = [
        (libc::POLLIN, "IN"),
        (libc::POLLPRI, "PRI"),
        (libc::POLLOUT, "OUT"),
        (libc::POLLERR, "ERR"),
        (libc::POLLHUP, "HUP"),
        (libc::POLLNVAL, "NVAL"),
        (libc::POLLRDNORM, "RDNORM"),
        (libc::POLLRDBAND, "RDBAND"),
        (libc::POLLWRNORM, "WRNORM"),
        (libc::POLLWRBAND, "WRBAND"),
        (libc::POLLRDHUP, "RDHUP"),
    ];
    bit_names(i64::from(ev), &table.map(|(b, n)| (i64::from(b as u16), n)))
}

/// All poll() events at once, without waiting.
fn poll_now(fd: &Socket) -> SysResult<String> {
    let all = libc::POLLIN
        | libc::POLLPRI
        | libc::POLLOUT
        | libc::POLLRDHUP
        | libc::POLLRDNORM
        | libc::POLLRDBAND
        | libc::POLLWRNORM
        | libc::POLLWRBAND;
    sys::poll(fd, all, 0).map(|ev| events(ev as u16 as u32))
}

/// Whether POLLOUT is set now.
fn writable(fd: &Socket) -> SysResult<bool> {
    sys::poll(fd, libc::POLLOUT, 0).map(|ev| ev & libc::POLLOUT != 0)
}

/// Who a pid is, family-independently.
fn who(pid: i32, child: Option<i32>) -> &'static str {
    // SAFETY: plain syscall.
    let me = unsafe { libc::getpid() };
    match pid {
        0 => "none (0)",
        p if p == me => "this process",
        p if Some(p) == child => "the child",
        _ => "another process",
    }
}

/// Credentials as observed: whose pid, uid, gid.
fn creds(c: &sys::Creds, child: Option<i32>) -> String {
    format!("pid {} uid {} gid {}", who(c.pid, child), c.uid as i32, c.gid as i32)
}

fn so_error(fd: &Socket) -> SysResult<String> {
    sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_ERROR).map(|e| format!("{:?}", sys::Errno(e)))
}

/// Sends `msg` with MSG_DONTWAIT (to `to` if given) until EAGAIN; at most
/// 100000 times. Fails on another error or if EAGAIN never comes.
fn fill(tx: &Socket, to: Option<&Addr>, msg: &[u8]) -> R<usize> {
    for n in 0..100_000 {
        let r = match to {
            Some(a) => tx.send_to_with_flags(msg, a, libc::MSG_DONTWAIT).sys(),
            None => tx.send_with_flags(msg, libc::MSG_DONTWAIT).sys(),
        };
        match r {
            Ok(_) => {}
            Err(sys::Errno(libc::EAGAIN)) => return Ok(n),
            Err(e) => return Err(format!("send {n} while filling: {e:?}")),
        }
    }
    Err("the receiver never filled up".into())
}

/// Makes the receive queue of `rx` small so that filling it is quick with
/// either accounting (bytes for the family, message count for AF_UNIX).
fn small_rcvbuf(rx: &Socket) -> R<()> {
    rx.set_recv_buffer_size(4096).sys().ctx("SO_RCVBUF")
}

/// A channel (see `channel`) whose receiver is full: 100-byte messages sent
/// with MSG_DONTWAIT until EAGAIN, which is recorded. How many fit is not
/// compared: AF_UNIX bounds a datagram receiver by message count
/// (max_dgram_qlen) and a seqpacket sender by its SO_SNDBUF, the family bounds
/// the receiver by its SO_RCVBUF bytes (made small here to keep this quick).
fn full_channel(f: &Fam, o: &mut Obs, ty: i32) -> R<(Socket, Socket)> {
    let (tx, rx) = channel(f, ty, "rx")?;
    small_rcvbuf(&rx)?;
    o.note("filled until EAGAIN", fill(&tx, None, &[b'x'; 100]).map(|_| ()));
    Ok((tx, rx))
}

/// Reads what is queued on `rx` (without recording how much) until EAGAIN.
fn drain(rx: &Socket) {
    for _ in 0..100_000 {
        if client::recv(rx, 256, libc::MSG_DONTWAIT).is_err() {
            break;
        }
    }
}

/// Signals the thread that created it with SIGUSR1 every 10 ms, at most
/// `limit` times (so a blocking call is interrupted however late it starts to
/// block), then runs `then` with a flag that is set once the interrupter is
/// dropped. Install a handler for SIGUSR1 first.
struct Interrupter {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Interrupter {
    fn start(limit: usize, then: impl FnOnce(&AtomicBool) + Send + 'static) -> Interrupter {
        let target = sys::this_thread();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            for _ in 0..limit {
                std::thread::sleep(Duration::from_millis(10));
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let _ = sys::signal_thread(target, libc::SIGUSR1);
            }
            then(&flag);
        });
        Interrupter { done, thread: Some(thread) }
    }
}

impl Drop for Interrupter {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits (up to 2 s) until `flag` is set.
fn wait_flag(flag: &AtomicBool) -> bool {
    for _ in 0..200 {
        if flag.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Runs `f` and reports whether it took at least `ms` milliseconds, with its result.
fn timed<T>(ms: u64, f: impl FnOnce() -> T) -> (bool, T) {
    let start = std::time::Instant::now();
    let r = f();
    (start.elapsed() >= Duration::from_millis(ms), r)
}
