//! connect(), disconnect and reaching addresses (sendto) for both types.

use super::*;
use crate::sys::{AddrOp, Child};

pub fn cases(mode: Mode) -> Vec<Case> {
    let mut v = Vec::new();
    v.push(case(mode, "dgram: connect, then send without an address", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        o.note("connect", a.connect(&f.path("b")).sys());
        o.note("getpeername", peername(f, &a));
        o.note("send", a.send_with_flags(b"hello", 0).sys());
        o.note("received", recv_from(f, &b, 64, libc::MSG_DONTWAIT));
        o.note("the receiver is not connected", peername(f, &b));
        Ok(())
    }));
    v.push(case(mode, "dgram: connect(AF_UNSPEC) disconnects", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        o.note("AF_UNSPEC while unconnected", a.disconnect().sys());
        a.connect(&f.path("b")).sys().ctx("connect")?;
        let mut short = SockAddr::of(libc::AF_UNSPEC, &Addr::unnamed());
        short.len = 1;
        o.note("AF_UNSPEC with addrlen 1", sys::addr_op(AddrOp::Connect, &a, &short));
        o.note("AF_UNSPEC", a.disconnect().sys());
        o.note("getpeername", peername(f, &a));
        o.note("send", a.send_with_flags(b"x", libc::MSG_DONTWAIT).sys());
        o.note("sendto still works", a.send_to_with_flags(b"y", &f.path("b"), libc::MSG_DONTWAIT).sys());
        o.note("received", recv_text(&b, libc::MSG_DONTWAIT));
        o.note("AF_UNSPEC again", a.disconnect().sys());
        Ok(())
    }));
    v.push(case(mode, "dgram: disconnecting drops queued messages and resets a mutual peer", |f, o| {
        let a = bound(f, DGRAM, &f.path("a"))?;
        let b = bound(f, DGRAM, &f.path("b"))?;
        a.connect(&f.path("b")).sys().ctx("connect a")?;
        b.connect(&f.path("a")).sys().ctx("connect b")?;
        b.send_with_flags(b"one", 0).sys().ctx("send")?;
        b.send_with_flags(b"two", 0).sys().ctx("send")?;
        o.note("disconnect a", a.disconnect().sys());
        o.note("a's queue", recv_text(&a, libc::MSG_DONTWAIT));
        o.note("poll b", poll_now(&b));
        o.note("b's SO_ERROR", so_error(&b));
        o.note("b's SO_ERROR again", so_error(&b));
        o.note("b's getpeername", peername(f, &b));
        o.note("b sends again", b.send_with_flags(b"three", libc::MSG_DONTWAIT).sys());
        o.note("a receives", recv_from(f, &a, 64, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: reconnecting to another peer drops queued messages", |f, o| {
        let a = bound(f, DGRAM, &f.path("a"))?;
        let b = bound(f, DGRAM, &f.path("b"))?;
        let c = bound(f, DGRAM, &f.path("c"))?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        b.send_to(b"from b", &f.path("a")).sys().ctx("sendto")?;
        o.note("reconnect to c", a.connect(&f.path("c")).sys());
        o.note("getpeername", peername(f, &a));
        o.note("a's queue", recv_text(&a, libc::MSG_DONTWAIT));
        o.note("b's SO_ERROR", so_error(&b));
        o.note("b sends to a", b.send_to_with_flags(b"b again", &f.path("a"), libc::MSG_DONTWAIT).sys());
        o.note("c sends to a", c.send_to_with_flags(b"from c", &f.path("a"), libc::MSG_DONTWAIT).sys());
        o.note("a receives", recv_from(f, &a, 64, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "connect to a missing path -> ENOENT", |f, o, ty| {
        let s = sock(f, ty)?;
        o.note("connect", s.connect(&f.path("missing")).sys());
        o.note("connect in a missing directory", s.connect(&f.path("nodir/missing")).sys());
        if ty == DGRAM {
            o.note("sendto", s.send_to(b"x", &f.path("missing")).sys());
        }
        o.note("getpeername", peername(f, &s));
        Ok(())
    }));
    v.extend(per_type(mode, "connect to a missing abstract name -> ECONNREFUSED", |f, o, ty| {
        let s = sock(f, ty)?;
        o.note("connect", s.connect(&f.abstract_("missing")).sys());
        if ty == DGRAM {
            o.note("sendto", s.send_to(b"x", &f.abstract_("missing")).sys());
        }
        o.note("getpeername", peername(f, &s));
        Ok(())
    }));
    v.extend(per_type(mode, "reaching a socket of the other type", |f, o, ty| {
        let other = bound(f, other_type(ty), &f.path("p"))?;
        let _other_abs = bound(f, other_type(ty), &f.abstract_("a"))?;
        if other_type(ty) == SEQPACKET {
            other.listen(1).sys().ctx("listen")?;
        }
        let s = sock(f, ty)?;
        o.note("connect to its path", s.connect(&f.path("p")).sys());
        o.note("connect to its abstract name", s.connect(&f.abstract_("a")).sys());
        if ty == DGRAM {
            o.note("sendto its path", s.send_to(b"x", &f.path("p")).sys());
        }
        Ok(())
    }));
    v.extend(per_type(mode, "reaching a path without write permission as non-root -> EACCES", |f, o, ty| {
        let t = bound(f, ty, &f.path("t"))?;
        if ty == SEQPACKET {
            t.listen(4).sys().ctx("listen")?;
        }
        let target = f.path("t");
        searchable(f)?;
        for perm in [0o755, 0o777] {
            chmod(f, "t", perm)?;
            let child = Child::spawn(true, || f.socket(ty)?.connect(&target).sys()).ctx("fork")?;
            o.note(&format!("connect to a {perm:o} socket"), child.wait()?);
            if ty == DGRAM {
                let child =
                    Child::spawn(true, || f.socket(ty)?.send_to(b"x", &target).sys().map(|_| ())).ctx("fork")?;
                o.note(&format!("sendto a {perm:o} socket"), child.wait()?);
            }
        }
        if ty == DGRAM {
            o.note("received", recv_text(&t, libc::MSG_DONTWAIT));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "reaching a closed socket's address -> ECONNREFUSED", |f, o, ty| {
        drop(bound(f, ty, &f.path("p"))?);
        drop(bound(f, ty, &f.abstract_("a"))?);
        let s = sock(f, ty)?;
        o.note("connect to the path", s.connect(&f.path("p")).sys());
        o.note("connect to the abstract name", s.connect(&f.abstract_("a")).sys());
        if ty == DGRAM {
            o.note("sendto the path", s.send_to(b"x", &f.path("p")).sys());
        }
        Ok(())
    }));
    v.extend(per_type(mode, "reaching a path that is not a socket; through a symlink", |f, o, ty| {
        io(std::fs::write(fs_path(f, "file"), b"x"), "create file")?;
        io(std::fs::create_dir(fs_path(f, "dir")), "mkdir")?;
        let t = bound(f, ty, &f.path("t"))?;
        if ty == SEQPACKET {
            t.listen(4).sys().ctx("listen")?;
        }
        io(std::os::unix::fs::symlink(fs_path(f, "t"), fs_path(f, "link")), "symlink")?;
        for name in ["file", "dir", "link"] {
            let s = sock(f, ty)?;
            o.note(&format!("connect to {name}"), s.connect(&f.path(name)).sys());
            o.note(&format!("getpeername after {name}"), peername(f, &s));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "connect with a foreign family or a bare family -> EINVAL", |f, o, ty| {
        let _t = bound(f, ty, &f.path("t"))?;
        let foreign = if f.af == libc::AF_UNIX { libc::AF_INET6 } else { libc::AF_UNIX };
        for (name, fam) in [("AF_INET", libc::AF_INET), ("other unix family", foreign)] {
            let mut a = f.raw(&f.path("t"));
            a.sun.sun_family = fam as libc::sa_family_t;
            o.note(name, sock(f, ty).map(|s| sys::addr_op(AddrOp::Connect, &s, &a))?);
        }
        o.note("own family only", sock(f, ty).map(|s| s.connect(&Addr::unnamed()).sys())?);
        o.note("AF_UNSPEC", sock(f, ty).map(|s| s.disconnect().sys())?);
        if ty == DGRAM {
            let mut a = f.raw(&f.path("t"));
            a.sun.sun_family = libc::AF_INET as libc::sa_family_t;
            o.note("sendto AF_INET", sock(f, ty).map(|s| sys::addr_op(AddrOp::SendTo, &s, &a))?);
            o.note(
                "sendto own family only",
                sock(f, ty).map(|s| sys::addr_op_len(AddrOp::SendTo, &s, &f.raw(&f.path("t")), 2))?,
            );
        }
        Ok(())
    }));
    v.push(case(mode, "dgram: send to a connected peer that closed: ECONNREFUSED, then ENOTCONN", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        a.send_with_flags(b"queued", 0).sys().ctx("send")?;
        drop(b);
        o.note("poll", poll_now(&a));
        o.note("send", a.send_with_flags(b"x", libc::MSG_DONTWAIT).sys());
        o.note("getpeername", peername(f, &a));
        o.note("send again", a.send_with_flags(b"x", libc::MSG_DONTWAIT).sys());
        o.note("SO_ERROR", so_error(&a));
        Ok(())
    }));
    v.push(case(mode, "dgram: a socket connected elsewhere refuses other senders (EPERM)", |f, o| {
        let a = bound(f, DGRAM, &f.path("a"))?;
        let b = bound(f, DGRAM, &f.path("b"))?;
        let c = bound(f, DGRAM, &f.path("c"))?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        o.note("c sendto a", c.send_to_with_flags(b"c", &f.path("a"), libc::MSG_DONTWAIT).sys());
        o.note("c connect to a", c.connect(&f.path("a")).sys());
        o.note("b sendto a", b.send_to_with_flags(b"b", &f.path("a"), libc::MSG_DONTWAIT).sys());
        o.note("a receives", recv_from(f, &a, 8, libc::MSG_DONTWAIT));
        a.disconnect().sys().ctx("disconnect")?;
        o.note("c sendto a after a disconnected", c.send_to_with_flags(b"c", &f.path("a"), libc::MSG_DONTWAIT).sys());
        o.note("a receives", recv_from(f, &a, 8, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: connect to itself", |f, o| {
        let a = bound(f, DGRAM, &f.abstract_("a"))?;
        o.note("connect", a.connect(&f.abstract_("a")).sys());
        o.note("getpeername", peername(f, &a));
        o.note("send", a.send_with_flags(b"me", 0).sys());
        o.note("receive", recv_from(f, &a, 8, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: sendto another address while connected", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let c = bound(f, DGRAM, &f.path("c"))?;
        let a = bound(f, DGRAM, &f.path("a"))?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        o.note("sendto c", a.send_to(b"to c", &f.path("c")).sys());
        o.note("sendto the peer", a.send_to(b"to b", &f.path("b")).sys());
        o.note("c receives", recv_from(f, &c, 8, libc::MSG_DONTWAIT));
        o.note("b receives", recv_from(f, &b, 8, libc::MSG_DONTWAIT));
        o.note("b has nothing more", recv_text(&b, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: a connection survives its peer's path being rebound", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        drop(b);
        io(std::fs::remove_file(fs_path(f, "b")), "unlink")?;
        let b2 = bound(f, DGRAM, &f.path("b"))?;
        o.note("send to the dead peer", a.send_with_flags(b"x", libc::MSG_DONTWAIT).sys());
        o.note("reconnect", a.connect(&f.path("b")).sys());
        o.note("send", a.send_with_flags(b"new", libc::MSG_DONTWAIT).sys());
        o.note("the new socket receives", recv_text(&b2, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: SO_PASSCRED autobinds an unbound sender", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        a.set_passcred(true).sys().ctx("SO_PASSCRED")?;
        o.note("getsockname before", sockname(f, &a));
        o.note("sendto", a.send_to(b"x", &f.path("b")).sys());
        o.note("getsockname after", sockname(f, &a));
        o.note("receiver sees", recv_from(f, &b, 8, libc::MSG_DONTWAIT));
        let c = sock(f, DGRAM)?;
        c.set_passcred(true).sys().ctx("SO_PASSCRED")?;
        o.note("connect", c.connect(&f.path("b")).sys());
        o.note("getsockname after connect", sockname(f, &c));
        let d = sock(f, DGRAM)?;
        d.set_passcred(true).sys().ctx("SO_PASSCRED")?;
        o.note("failed sendto", d.send_to(b"x", &f.abstract_("missing")).sys());
        o.note("getsockname after a failed sendto", sockname(f, &d));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: SO_PASSCRED autobinds the client on connect", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let c = sock(f, SEQPACKET)?;
        c.set_passcred(true).sys().ctx("SO_PASSCRED")?;
        o.note("connect", c.connect(&a).sys());
        o.note("client's getsockname", sockname(f, &c));
        let (s, from) = sys::accept(&l, 0).ctx("accept")?;
        o.note("accept's address", show(f, &from));
        o.note("accepted's getpeername", peername(f, &s));
        Ok(())
    }));
    v
}
