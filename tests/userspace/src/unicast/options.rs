//! Socket options, ioctls, credentials, descriptor passing and signals.

use super::*;
use crate::ensure;
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use crate::sys::{Child, Creds, RecvOpts, SignalHandler};
use std::os::fd::AsFd;

const DONTWAIT: i32 = libc::MSG_DONTWAIT;

fn passcred(fd: &Socket, on: bool) -> R<()> {
    fd.set_passcred((on as i32) != 0).sys().ctx("SO_PASSCRED")
}

/// The receiving side of the credential cases, with SO_PASSCRED set: a dgram
/// socket bound to an abstract name, or a non-blocking seqpacket listener at
/// `DIR/rx` that anyone may connect to. Returns it and the address to reach.
fn cred_receiver(f: &Fam, ty: i32) -> R<(Socket, Addr)> {
    let (rx, a) = if ty == DGRAM {
        (bound(f, DGRAM, &f.abstract_("rx"))?, f.abstract_("rx"))
    } else {
        let (l, a) = listener(f, "rx")?;
        searchable(f)?;
        chmod(f, "rx", 0o777)?;
        l.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        (l, a)
    };
    passcred(&rx, true)?;
    Ok((rx, a))
}

/// Sends "m" with explicit credentials `cred`, if given, over a new socket
/// connected to `a`.
fn cred_send(f: &Fam, ty: i32, a: &Addr, cred: Option<Creds>) -> SysResult<()> {
    let s = f.socket(ty)?;
    s.connect(a).sys()?;
    s.send_msg(b"m", None, cred.map(Creds::ucred), &[], 0).sys().map(|_| ())
}

/// The next message `cred_send` left for `rx` (for seqpacket: on the next
/// accepted connection), as observed: data, flags and credentials.
fn cred_recv(ty: i32, rx: &Socket, child: Option<i32>) -> SysResult<String> {
    let accepted;
    let from = if ty == SEQPACKET {
        accepted = rx.accept().sys()?.0;
        &accepted
    } else {
        rx
    };
    let mut buf = [0u8; 256];
    let m = from.recv_msg(&mut buf, DONTWAIT).sys()?;
    let seen: Vec<String> = m.cred.iter().map(|&c| creds(&c.into(), child)).collect();
    Ok(format!("{} creds {seen:?}", meta(&buf, &m)))
}

/// Runs `send` in a child process as nobody and returns the child's pid and
/// what `send` returned.
fn as_nobody(send: impl FnOnce() -> SysResult<()>) -> R<(i32, SysResult<()>)> {
    let child = Child::spawn(true, send).ctx("fork")?;
    let pid = child.pid;
    Ok((pid, child.wait()?))
}

/// A blocking call in this thread, interrupted by SIGUSR1 (handler without
/// SA_RESTART) until it returns. After about a second without returning,
/// `fd` is shut down so a wrong implementation cannot hang the run.
fn interrupted<T>(fd: &Socket, call: impl FnOnce() -> T) -> R<T> {
    let _handler = SignalHandler::install(libc::SIGUSR1, false).ctx("sigaction")?;
    let raw = fd.as_raw_fd();
    let intr = Interrupter::start(100, move |_| {
        let _ = sys::shutdown_raw(raw, libc::SHUT_RDWR);
    });
    let r = call();
    drop(intr);
    Ok(r)
}

pub fn cases(mode: Mode) -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(per_type(mode, "SO_RCVTIMEO: recv fails with EAGAIN after the timeout", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("set", rx.set_read_timeout(Some(std::time::Duration::from_millis(100))).sys());
        o.note("get", rx.read_timeout().sys().map(|t| t.map_or(0, |d| d.as_millis())));
        let (waited, r) = timed(50, || recv_text(&rx, 0));
        o.note("recv on an empty queue", r);
        o.note("waited for the timeout", waited);
        tx.send_with_flags(b"ready", 0).sys().ctx("send")?;
        o.note("recv with a message queued", recv_text(&rx, 0));
        Ok(())
    }));
    v.extend(per_type(mode, "SO_SNDTIMEO: a send to a full peer fails with EAGAIN after the timeout", |f, o, ty| {
        let (tx, _rx) = full_channel(f, o, ty)?;
        o.note("set", tx.set_write_timeout(Some(std::time::Duration::from_millis(100))).sys());
        o.note("get", tx.write_timeout().sys().map(|t| t.map_or(0, |d| d.as_millis())));
        let (waited, r) = timed(50, || tx.send_with_flags(&[b'x'; 100], 0).sys());
        o.note("blocking send", r);
        o.note("waited for the timeout", waited);
        Ok(())
    }));
    v.extend(per_type(mode, "a blocking recv is interrupted by a signal -> EINTR", |f, o, ty| {
        let (_tx, rx) = channel(f, ty, "rx")?;
        o.note("recv", interrupted(&rx, || recv_text(&rx, 0))?);
        o.note("still usable", _tx.send_with_flags(b"after", 0).sys().and_then(|_| recv_text(&rx, 0)));
        Ok(())
    }));
    v.extend(per_type(mode, "SA_RESTART restarts a blocking recv unless SO_RCVTIMEO is set", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        let tx = Arc::new(tx);
        let _handler = SignalHandler::install(libc::SIGUSR1, true).ctx("sigaction")?;
        let raw = rx.as_raw_fd();
        // Three signals, then the data.
        let sender = tx.clone();
        let intr = Interrupter::start(3, move |done| {
            let _ = sender.send_with_flags(b"data", 0).sys();
            if !wait_flag(done) {
                let _ = sys::shutdown_raw(raw, libc::SHUT_RDWR);
            }
        });
        let r = recv_text(&rx, 0);
        drop(intr);
        o.note("recv without SO_RCVTIMEO", r);
        rx.set_read_timeout(Some(std::time::Duration::from_millis(5000))).sys().ctx("SO_RCVTIMEO")?;
        let intr = Interrupter::start(100, move |_| {
            let _ = sys::shutdown_raw(raw, libc::SHUT_RDWR);
        });
        let r = recv_text(&rx, 0);
        drop(intr);
        o.note("recv with SO_RCVTIMEO", r);
        Ok(())
    }));
    v.extend(per_type(mode, "a blocking send to a full peer is interrupted by a signal -> EINTR", |f, o, ty| {
        let (tx, _rx) = full_channel(f, o, ty)?;
        // The send timeout only keeps a wrong implementation from hanging.
        tx.set_write_timeout(Some(std::time::Duration::from_millis(3000))).sys().ctx("SO_SNDTIMEO")?;
        o.note("send", interrupted(&tx, || tx.send_with_flags(&[b'x'; 100], 0).sys())?);
        Ok(())
    }));
    v.push(case(mode, "seqpacket: a blocking accept is interrupted by a signal -> EINTR", |f, o| {
        let (l, a) = listener(f, "srv")?;
        // A second guard against hanging; with a timeout set, a signal still gives EINTR.
        l.set_read_timeout(Some(std::time::Duration::from_millis(3000))).sys().ctx("SO_RCVTIMEO")?;
        o.note("accept", interrupted(&l, || l.accept().sys().map(|_| ()))?);
        let c = sock(f, SEQPACKET)?;
        o.note("the listener still works", c.connect(&a).sys().and_then(|_| l.accept().sys()).map(|_| ()));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: SO_PEERCRED on both ends", |f, o| {
        let (l, a) = listener(f, "srv")?;
        searchable(f)?;
        chmod(f, "srv", 0o777)?;
        o.note("unconnected socket", (sock(f, SEQPACKET)?).peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        o.note("listener", l.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        // SAFETY: plain syscall.
        let parent = unsafe { libc::getpid() };
        // The child connects, sends what it sees as SO_PEERCRED and exits.
        let (pid, r) = as_nobody(|| {
            let c = f.socket(SEQPACKET)?;
            c.connect(&a).sys()?;
            let seen = c.peer_cred().sys().map(sys::Creds::from)?;
            let text = format!("pid is the parent: {} uid {} gid {}", seen.pid == parent, seen.uid, seen.gid);
            c.send_with_flags(text.as_bytes(), 0).sys().map(|_| ())
        })?;
        o.note("child", r);
        l.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        let s = l.accept().sys().ctx("accept")?.0;
        o.note("accepted socket", s.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, Some(pid))));
        o.note("the client saw", recv_text(&s, 0));
        l.set_nonblocking(false).sys().ctx("O_NONBLOCK")?;
        let (c, s) = connect_accept(f, &l, &a)?;
        o.note("same process: client", c.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        o.note("same process: accepted", s.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        Ok(())
    }));
    v.push(case(mode, "dgram: SO_PEERCRED of connected sockets", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        o.note("unconnected", a.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        a.connect(&f.path("b")).sys().ctx("connect")?;
        o.note("connected", a.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        o.note("its peer", b.peer_cred().sys().map(sys::Creds::from).map(|c| creds(&c, None)));
        Ok(())
    }));
    v.extend(per_type(mode, "SO_PASSCRED: SCM_CREDENTIALS carry the sender's pid, uid and gid", |f, o, ty| {
        let (rx, a) = cred_receiver(f, ty)?;
        o.note("SO_PASSCRED", rx.passcred().sys());
        o.note("send from this process", cred_send(f, ty, &a, None));
        o.note("received", cred_recv(ty, &rx, None));
        let (pid, r) = as_nobody(|| cred_send(f, ty, &a, None))?;
        o.note("send from a child as nobody", r);
        o.note("received", cred_recv(ty, &rx, Some(pid)));
        Ok(())
    }));
    v.extend(per_type(mode, "explicit SCM_CREDENTIALS: checked against the sender's privileges", |f, o, ty| {
        let (rx, a) = cred_receiver(f, ty)?;
        let me = Creds::mine();
        let forged = Creds { uid: 12345, gid: 54321, ..me };
        for (name, c) in [
            ("own", me),
            ("other ids as root", forged),
            ("no such pid", Creds { pid: 0x3fff_fff0, ..me }),
            ("invalid uid", Creds { uid: u32::MAX, ..me }),
        ] {
            o.note(&format!("send {name}"), cred_send(f, ty, &a, Some(c)));
            o.note("received", cred_recv(ty, &rx, None));
        }
        type Forge = fn(Creds) -> Creds;
        let attempts: [(&str, Forge); 3] = [
            ("own", |c| c),
            ("uid 0", |c| Creds { uid: 0, ..c }),
            // In the child, the parent is this process.
            // SAFETY: plain syscall.
            ("the parent's pid", |c| Creds { pid: unsafe { libc::getppid() }, ..c }),
        ];
        for (name, make) in attempts {
            let (pid, r) = as_nobody(|| cred_send(f, ty, &a, Some(make(Creds::mine()))))?;
            o.note(&format!("nobody sends {name}"), r);
            o.note("received", cred_recv(ty, &rx, Some(pid)));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "credentials depend on SO_PASSCRED of either end at send time", |f, o, ty| {
        let (rx, a) = cred_receiver(f, ty)?;
        passcred(&rx, false)?;
        o.note("plain send", cred_send(f, ty, &a, None));
        passcred(&rx, true)?;
        o.note("SO_PASSCRED set after it was queued", cred_recv(ty, &rx, None));
        passcred(&rx, false)?;
        let s = f.socket(ty).ctx("socket")?;
        passcred(&s, true)?;
        s.connect(&a).sys().ctx("connect")?;
        o.note("send with the sender's SO_PASSCRED", s.send_with_flags(b"m", 0).sys());
        drop(s);
        passcred(&rx, true)?;
        o.note("received", cred_recv(ty, &rx, None));
        passcred(&rx, false)?;
        o.note("plain send", cred_send(f, ty, &a, None));
        o.note("received without SO_PASSCRED", cred_recv(ty, &rx, None));
        Ok(())
    }));
    v.push(case(mode, "dgram: MSG_CTRUNC when the control buffer cannot hold the credentials", |f, o| {
        let (rx, a) = cred_receiver(f, DGRAM)?;
        for control in [0, 8, 64] {
            cred_send(f, DGRAM, &a, None).ctx("send")?;
            let m = sys::recvmsg(&rx, &RecvOpts { iov: &[8], name: false, control }, DONTWAIT);
            o.note(&format!("control buffer of {control} bytes"), m.map(|m| (msg_flags(m.flags), m.creds.len())));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "SCM_RIGHTS: a pipe end passes, as on AF_UNIX", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        let (pr, pw) = sys::pipe().ctx("pipe")?;
        let r = tx.send_msg(b"fd", None, None, &[pr.as_fd()], DONTWAIT).sys();
        ensure!(r == Ok(2), "sendmsg: {r:?}");
        let mut buf = [0u8; 16];
        let m = rx.recv_msg(&mut buf, DONTWAIT).sys().ctx("recvmsg")?;
        ensure!(&buf[..m.len] == b"fd" && m.fds.len() == 1, "received {m:?}");
        sys::write(&pw, b"z").ctx("write")?;
        ensure!(sys::read(&m.fds[0], 4) == Ok(b"z".to_vec()), "the passed descriptor is not the pipe");
        o.note("nothing else queued", recv_text(&rx, DONTWAIT));
        o.note("a plain message still passes", tx.send_with_flags(b"plain", 0).sys().and_then(|_| recv_text(&rx, DONTWAIT)));
        Ok(())
    }));
    v.extend(per_type(mode, "SIOCINQ", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("empty", sys::ioctl_int(&rx, libc::FIONREAD));
        tx.send_with_flags(b"12345", 0).sys().ctx("send")?;
        tx.send_with_flags(&[b'x'; 100], 0).sys().ctx("send")?;
        o.note("5 and 100 bytes queued", sys::ioctl_int(&rx, libc::FIONREAD));
        client::recv(&rx, 256, DONTWAIT).ctx("recv")?;
        o.note("after reading one", sys::ioctl_int(&rx, libc::FIONREAD));
        o.note("SIOCOUTQ is answered", sys::ioctl_int(&tx, libc::TIOCOUTQ).is_ok());
        if ty == SEQPACKET {
            let (l, _) = listener(f, "l")?;
            o.note("listener", sys::ioctl_int(&l, libc::FIONREAD));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_ERROR", |f, o, ty| {
        let get = |fd: &Socket| -> SysResult<String> {
            let opt = |name| sys::getsockopt_int(fd, libc::SOL_SOCKET, name);
            Ok(format!(
                "type {} domain is the family's {} protocol {} acceptconn {} error {}",
                opt(libc::SO_TYPE)?,
                opt(libc::SO_DOMAIN)? == f.af,
                opt(libc::SO_PROTOCOL)?,
                opt(libc::SO_ACCEPTCONN)?,
                opt(libc::SO_ERROR)?
            ))
        };
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("sender", get(&tx));
        o.note("receiver", get(&rx));
        if ty == SEQPACKET {
            let (l, _) = listener(f, "l")?;
            o.note("listener", get(&l));
        }
        o.note("setting SO_TYPE", sys::setsockopt_int(&tx, libc::SOL_SOCKET, libc::SO_TYPE, other_type(ty)));
        Ok(())
    }));
    v.extend(per_type(mode, "SO_RCVBUF and SO_SNDBUF report twice the value set", |f, o, ty| {
        let s = sock(f, ty)?;
        for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
            let get = || sys::getsockopt_int(&s, libc::SOL_SOCKET, opt);
            o.note("default", get());
            for value in [10000, 1, 65536] {
                o.note(
                    &format!("set {value}"),
                    sys::setsockopt_int(&s, libc::SOL_SOCKET, opt, value).and_then(|_| get()),
                );
            }
        }
        Ok(())
    }));
    v
}
