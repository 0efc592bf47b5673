//! Connection life cycle: listen/accept, backlog, peer close, shutdown.

use super::*;

const DONTWAIT: i32 = libc::MSG_DONTWAIT;
const NOSIGNAL: i32 = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;

/// A blocking recv() that AF_UNIX answers at once; a 1 s SO_RCVTIMEO keeps a
/// wrong implementation from hanging the run.
fn recv_blocking(fd: &Socket) -> SysResult<String> {
    fd.set_read_timeout(Some(std::time::Duration::from_millis(1000))).sys()?;
    recv_text(fd, 0)
}

/// Flags of a descriptor as observed: (O_NONBLOCK, FD_CLOEXEC).
fn fd_flags(fd: &Socket) -> SysResult<(bool, bool)> {
    Ok((sys::fcntl_getfl(fd)? & libc::O_NONBLOCK != 0, sys::fcntl_getfd(fd)? & libc::FD_CLOEXEC != 0))
}

/// Connected seqpacket sockets where the server end has closed after `setup`
/// ran on (client, server).
fn peer_closed(f: &Fam, setup: impl FnOnce(&Socket, &Socket) -> R<()>) -> R<Socket> {
    let (c, s) = seq_pair(f, "srv")?;
    setup(&c, &s)?;
    drop(s);
    Ok(c)
}

pub fn cases(mode: Mode) -> Vec<Case> {
    let mut v = Vec::new();
    v.push(case(mode, "seqpacket: connect to a bound socket that is not listening -> ECONNREFUSED", |f, o| {
        let t = bound(f, SEQPACKET, &f.path("t"))?;
        let c = sock(f, SEQPACKET)?;
        o.note("connect", c.connect(&f.path("t")).sys());
        o.note("getpeername", peername(f, &c));
        o.note("listen", t.listen(1).sys());
        o.note("connect after listen", c.connect(&f.path("t")).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: listen needs a bound socket", |f, o| {
        let s = sock(f, SEQPACKET)?;
        o.note("listen unbound", s.listen(1).sys());
        s.bind(&Addr::unnamed()).sys().ctx("autobind")?;
        o.note("listen autobound", s.listen(1).sys());
        o.note("listen again with another backlog", s.listen(4).sys());
        o.note("listen with a negative backlog", s.listen(-1).sys());
        let c = sock(f, SEQPACKET)?;
        o.note("connect to the autobound listener", c.connect(&s.local_addr().sys().ctx("getsockname")?).sys());
        Ok(())
    }));
    v.push(case(mode, "dgram: listen and accept -> EOPNOTSUPP", |f, o| {
        let s = bound(f, DGRAM, &f.path("s"))?;
        o.note("listen", s.listen(1).sys());
        o.note("accept", s.accept().sys().map(|_| ()));
        o.note("accept4 SOCK_NONBLOCK", sys::accept(&s, libc::SOCK_NONBLOCK).map(|_| ()));
        let a = sock(f, DGRAM)?;
        o.note("still receives", a.send_to(b"x", &f.path("s")).sys().and_then(|_| recv_text(&s, DONTWAIT)));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: accept on a socket that is not listening -> EINVAL", |f, o| {
        let s = sock(f, SEQPACKET)?;
        o.note("unbound", s.accept().sys().map(|_| ()));
        s.bind(&f.path("s")).sys().ctx("bind")?;
        o.note("bound", s.accept().sys().map(|_| ()));
        let (c, a) = seq_pair(f, "srv")?;
        o.note("connected client", c.accept().sys().map(|_| ()));
        o.note("accepted socket", a.accept().sys().map(|_| ()));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: accept on an empty queue: EAGAIN non-blocking or after SO_RCVTIMEO", |f, o| {
        let (l, _) = listener(f, "srv")?;
        l.set_read_timeout(Some(std::time::Duration::from_millis(100))).sys().ctx("SO_RCVTIMEO")?;
        let (waited, r) = timed(50, || l.accept().sys().map(|_| ()));
        o.note("blocking accept with SO_RCVTIMEO", r);
        o.note("waited for the timeout", waited);
        l.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        o.note("non-blocking accept", l.accept().sys().map(|_| ()));
        o.note("poll", poll_now(&l));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: accept4 flags take effect on the accepted socket", |f, o| {
        let (l, a) = listener(f, "srv")?;
        l.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        let clients: Vec<Socket> = (0..3).map(|_| sock(f, SEQPACKET)).collect::<R<_>>()?;
        for c in &clients {
            c.connect(&a).sys().ctx("connect")?;
        }
        o.note("invalid accept4 flag", sys::accept(&l, 1).map(|_| ()));
        for (name, flags) in [("none", 0), ("SOCK_NONBLOCK", libc::SOCK_NONBLOCK), ("SOCK_CLOEXEC", libc::SOCK_CLOEXEC)]
        {
            let s = sys::accept(&l, flags).ctx("accept4")?.0;
            o.note(&format!("{name}: (O_NONBLOCK, FD_CLOEXEC)"), fd_flags(&s));
            if flags == libc::SOCK_NONBLOCK {
                o.note(&format!("{name}: recv without MSG_DONTWAIT"), recv_text(&s, 0));
            }
        }
        Ok(())
    }));
    v.push(case(mode, "seqpacket: addresses of listening, connected and accepted sockets", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let c1 = sock(f, SEQPACKET)?;
        c1.connect(&a).sys().ctx("connect")?;
        let c2 = bound(f, SEQPACKET, &f.abstract_("c2"))?;
        c2.connect(&a).sys().ctx("connect")?;
        for (name, c) in [("unbound client", &c1), ("bound client", &c2)] {
            let (s, from) = sys::accept(&l, 0).ctx("accept")?;
            o.note(&format!("{name}: accept's address"), show(f, &from));
            o.note(&format!("{name}: accepted getsockname"), sockname(f, &s));
            o.note(&format!("{name}: accepted getpeername"), peername(f, &s));
            o.note(&format!("{name}: client getsockname"), sockname(f, c));
            o.note(&format!("{name}: client getpeername"), peername(f, c));
        }
        o.note("listener getsockname", sockname(f, &l));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: the backlog bounds pending connections", |f, o| {
        let (l, a) = listener(f, "srv")?;
        l.listen(1).sys().ctx("listen")?;
        let mut clients = Vec::new();
        for i in 0..4 {
            let c = f.socket(SEQPACKET | libc::SOCK_NONBLOCK).ctx("socket")?;
            o.note(&format!("non-blocking connect {i}"), c.connect(&a).sys());
            clients.push(c);
        }
        o.note("poll listener", poll_now(&l));
        let c = sock(f, SEQPACKET)?;
        c.set_write_timeout(Some(std::time::Duration::from_millis(100))).sys().ctx("SO_SNDTIMEO")?;
        let (waited, r) = timed(50, || c.connect(&a).sys());
        o.note("blocking connect with SO_SNDTIMEO", r);
        o.note("waited for the timeout", waited);
        let _first = l.accept().sys().ctx("accept")?;
        o.note("connect after one accept", c.connect(&a).sys());
        l.listen(4).sys().ctx("listen")?;
        let d = f.socket(SEQPACKET | libc::SOCK_NONBLOCK).ctx("socket")?;
        o.note("connect after raising the backlog", d.connect(&a).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: listen on a connected socket, connect on a listening one -> EINVAL", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        o.note("listen on the client", c.listen(1).sys());
        o.note("listen on the accepted socket", s.listen(1).sys());
        let (l, _) = listener(f, "l")?;
        let (_other, b) = listener(f, "other")?;
        o.note("connect a listener", l.connect(&b).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: after the peer closes, queued messages, then end of file", |f, o| {
        let c = peer_closed(f, |_, s| {
            s.send_with_flags(b"one", 0).sys().ctx("send")?;
            s.send_with_flags(b"two", 0).sys().ctx("send").map(|_| ())
        })?;
        o.note("poll", poll_now(&c));
        o.note("recv", recv_text(&c, DONTWAIT));
        o.note("recv", recv_text(&c, DONTWAIT));
        o.note("recv at the end", recv_text(&c, DONTWAIT));
        o.note("blocking recv at the end", recv_blocking(&c));
        o.note("SO_ERROR", so_error(&c));
        o.note("getpeername", peername(f, &c));
        o.note("connect again", c.connect(&f.path("srv")).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: send after the peer closed -> EPIPE", |f, o| {
        let c = peer_closed(f, |_, _| Ok(()))?;
        o.note("send", c.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("sendmsg", c.send_msg(b"x", None, None, &[], NOSIGNAL).sys());
        o.note("SO_ERROR", so_error(&c));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: the peer closed with unread data: recv reports ECONNRESET first", |f, o| {
        let c = peer_closed(f, |c, s| {
            c.send_with_flags(b"unread", 0).sys().ctx("send")?;
            s.send_with_flags(b"for the client", 0).sys().ctx("send").map(|_| ())
        })?;
        o.note("poll", poll_now(&c));
        o.note("recv", recv_text(&c, DONTWAIT));
        o.note("SO_ERROR after", so_error(&c));
        o.note("recv again", recv_text(&c, DONTWAIT));
        o.note("recv at the end", recv_text(&c, DONTWAIT));
        o.note("poll after", poll_now(&c));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: the peer closed with unread data: send reports ECONNRESET once", |f, o| {
        let c = peer_closed(f, |c, _| c.send_with_flags(b"unread", 0).sys().ctx("send").map(|_| ()))?;
        o.note("send", c.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("SO_ERROR after", so_error(&c));
        o.note("send again", c.send_with_flags(b"x", NOSIGNAL).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: the peer closed with unread data: SO_ERROR reports ECONNRESET once", |f, o| {
        let c = peer_closed(f, |c, _| c.send_with_flags(b"unread", 0).sys().ctx("send").map(|_| ()))?;
        o.note("SO_ERROR", so_error(&c));
        o.note("SO_ERROR again", so_error(&c));
        o.note("recv", recv_text(&c, DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: shutdown(SHUT_WR)", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        c.send_with_flags(b"last", 0).sys().ctx("send")?;
        o.note("shutdown", c.shutdown(std::net::Shutdown::Write).sys());
        o.note("poll the peer", poll_now(&s));
        o.note("poll own", poll_now(&c));
        o.note("the peer receives", recv_text(&s, DONTWAIT));
        o.note("then end of file", recv_text(&s, DONTWAIT));
        o.note("blocking, end of file", recv_blocking(&s));
        o.note("send", c.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("the peer sends back", s.send_with_flags(b"reply", NOSIGNAL).sys());
        o.note("receive the reply", recv_text(&c, DONTWAIT));
        o.note("shutdown again", c.shutdown(std::net::Shutdown::Write).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: shutdown(SHUT_RD)", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        s.send_with_flags(b"early", 0).sys().ctx("send")?;
        o.note("shutdown", c.shutdown(std::net::Shutdown::Read).sys());
        o.note("poll own", poll_now(&c));
        o.note("poll the peer", poll_now(&s));
        o.note("queued data", recv_text(&c, DONTWAIT));
        o.note("then end of file", recv_text(&c, DONTWAIT));
        o.note("the peer sends", s.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("send", c.send_with_flags(b"up", NOSIGNAL).sys());
        o.note("the peer receives", recv_text(&s, DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: shutdown(SHUT_RDWR)", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        o.note("shutdown", c.shutdown(std::net::Shutdown::Both).sys());
        o.note("poll own", poll_now(&c));
        o.note("poll the peer", poll_now(&s));
        o.note("send", c.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("recv", recv_text(&c, DONTWAIT));
        o.note("the peer sends", s.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("the peer receives", recv_text(&s, DONTWAIT));
        o.note("SO_ERROR of the peer", so_error(&s));
        Ok(())
    }));
    v.extend(per_type(mode, "shutdown of an unconnected socket; bad modes -> EINVAL", |f, o, ty| {
        let s = bound(f, ty, &f.path("s"))?;
        o.note("mode 3", sys::shutdown(&s, 3));
        o.note("mode -1", sys::shutdown(&s, -1));
        o.note("SHUT_RD", s.shutdown(std::net::Shutdown::Read).sys());
        o.note("SHUT_WR", s.shutdown(std::net::Shutdown::Write).sys());
        o.note("poll", poll_now(&s));
        let c = sock(f, ty)?;
        if ty == DGRAM {
            o.note("sendto it", c.send_to_with_flags(b"x", &f.path("s"), NOSIGNAL).sys());
            o.note("it sends", s.send_to_with_flags(b"x", &f.abstract_("none"), NOSIGNAL).sys());
        } else {
            o.note("listen", s.listen(1).sys());
            o.note("connect to it", c.connect(&f.path("s")).sys());
        }
        Ok(())
    }));
    v.extend(per_type(mode, "send and recv on an unconnected socket", |f, o, ty| {
        let s = bound(f, ty, &f.path("s"))?;
        o.note("send", s.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("recv", recv_text(&s, DONTWAIT));
        o.note("recvmsg", recv_meta(&s, DONTWAIT));
        if ty == SEQPACKET {
            s.listen(1).sys().ctx("listen")?;
            o.note("send on a listener", s.send_with_flags(b"x", NOSIGNAL).sys());
            o.note("recv on a listener", recv_text(&s, DONTWAIT));
        }
        Ok(())
    }));
    v.push(case(mode, "seqpacket: connect twice -> EISCONN", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let (_l2, b) = listener(f, "other")?;
        let c = sock(f, SEQPACKET)?;
        c.connect(&a).sys().ctx("connect")?;
        o.note("connect again", c.connect(&a).sys());
        o.note("connect elsewhere", c.connect(&b).sys());
        l.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        o.note("first accept", l.accept().sys().map(|_| ()));
        o.note("second accept", l.accept().sys().map(|_| ()));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: closing the listener resets pending connections", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let c = sock(f, SEQPACKET)?;
        c.connect(&a).sys().ctx("connect")?;
        o.note("send before accept", c.send_with_flags(b"early", 0).sys());
        drop(l);
        o.note("poll", poll_now(&c));
        o.note("recv", recv_text(&c, DONTWAIT));
        o.note("recv again", recv_text(&c, DONTWAIT));
        o.note("send", c.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("connect to the path", sock(f, SEQPACKET).map(|d| d.connect(&a).sys())?);
        Ok(())
    }));
    v.push(case(mode, "seqpacket: accepting a connection whose client sent and closed", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let c = sock(f, SEQPACKET)?;
        c.connect(&a).sys().ctx("connect")?;
        c.send_with_flags(b"hello", 0).sys().ctx("send")?;
        drop(c);
        l.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        let s = l.accept().sys().ctx("accept")?.0;
        o.note("poll", poll_now(&s));
        o.note("recv", recv_text(&s, 0));
        o.note("then end of file", recv_text(&s, 0));
        o.note("send", s.send_with_flags(b"x", NOSIGNAL).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: shutdown(SHUT_RD) on a listener refuses connections", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let early = sock(f, SEQPACKET)?;
        early.connect(&a).sys().ctx("connect")?;
        o.note("shutdown", l.shutdown(std::net::Shutdown::Read).sys());
        o.note("poll", poll_now(&l));
        o.note("connect", sock(f, SEQPACKET).map(|c| c.connect(&a).sys())?);
        l.set_read_timeout(Some(std::time::Duration::from_millis(1000))).sys().ctx("SO_RCVTIMEO")?;
        o.note("accept the pending one", l.accept().sys().map(|_| ()));
        o.note("accept on the empty queue", l.accept().sys().map(|_| ()));
        Ok(())
    }));
    v.push(case(mode, "dgram: shutdown(SHUT_WR)", |f, o| {
        let a = bound(f, DGRAM, &f.path("a"))?;
        let b = bound(f, DGRAM, &f.path("b"))?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        o.note("shutdown", a.shutdown(std::net::Shutdown::Write).sys());
        o.note("poll own", poll_now(&a));
        o.note("poll the peer", poll_now(&b));
        o.note("send", a.send_with_flags(b"after", NOSIGNAL).sys());
        o.note("the peer receives", recv_text(&b, DONTWAIT));
        o.note("the peer sends back", b.send_to_with_flags(b"back", &f.path("a"), NOSIGNAL).sys());
        o.note("receive", recv_text(&a, DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: shutdown(SHUT_RD)", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        a.send_with_flags(b"early", 0).sys().ctx("send")?;
        o.note("shutdown", b.shutdown(std::net::Shutdown::Read).sys());
        o.note("poll", poll_now(&b));
        o.note("poll the sender", poll_now(&a));
        o.note("queued data", recv_text(&b, DONTWAIT));
        o.note("empty, non-blocking", recv_text(&b, DONTWAIT));
        o.note("empty, blocking", recv_blocking(&b));
        o.note("send to it", a.send_with_flags(b"x", NOSIGNAL).sys());
        o.note("it sends", b.send_to_with_flags(b"x", &f.abstract_("none"), NOSIGNAL).sys());
        Ok(())
    }));
    v
}
