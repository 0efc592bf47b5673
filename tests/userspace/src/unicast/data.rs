//! sendmsg()/recvmsg() and their flags, for both types.

use super::*;
use crate::sys::{AddrOp, RecvOpts};
use mcast_unix::Socket;

const DONTWAIT: i32 = libc::MSG_DONTWAIT;

/// recvmsg() with one buffer of `cap` bytes, as observed.
fn recv_msg(f: &Fam, fd: &Socket, cap: usize, flags: i32) -> SysResult<String> {
    received(f, &sys::recvmsg(fd, &RecvOpts { iov: &[cap], name: true, control: 0 }, flags))
}

pub fn cases(mode: Mode) -> Vec<Case> {
    let mut v = Vec::new();
    v.push(case(mode, "dgram: the receiver sees path, abstract and unnamed senders", |f, o| {
        let r = bound(f, DGRAM, &f.path("r"))?;
        let p = bound(f, DGRAM, &f.path("p"))?;
        let a = bound(f, DGRAM, &f.abstract_("a"))?;
        let u = sock(f, DGRAM)?;
        for (name, s) in [("path", &p), ("abstract", &a), ("unnamed", &u)] {
            s.send_to(name.as_bytes(), &f.path("r")).sys().ctx("sendto")?;
            o.note(&format!("recvfrom {name}"), recv_from(f, &r, 64, DONTWAIT));
            s.send_to(name.as_bytes(), &f.path("r")).sys().ctx("sendto")?;
            o.note(&format!("recvmsg {name}"), recv_msg(f, &r, 64, DONTWAIT));
        }
        Ok(())
    }));
    v.push(case(mode, "seqpacket: the receiver sees the peer's address", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        s.send_with_flags(b"to client", 0).sys().ctx("send")?;
        o.note("client receives from", recv_from(f, &c, 64, DONTWAIT));
        c.send_with_flags(b"to server", 0).sys().ctx("send")?;
        o.note("server receives from", recv_from(f, &s, 64, DONTWAIT));
        c.bind(&f.abstract_("c")).sys().ctx("bind")?;
        c.send_with_flags(b"bound now", 0).sys().ctx("send")?;
        o.note("server receives from", recv_msg(f, &s, 64, DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "zero-length messages", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("send empty", tx.send_with_flags(b"", 0).sys());
        o.note("sendmsg without iovecs", sys::sendmsg(&tx, &[], 0));
        o.note("poll", poll_now(&rx));
        o.note("SIOCINQ", sys::ioctl_int(&rx, libc::FIONREAD));
        o.note("recv", recv_text(&rx, DONTWAIT));
        o.note("recvmsg", recv_msg(f, &rx, 16, DONTWAIT));
        o.note("queue now", recv_text(&rx, DONTWAIT));
        o.note("send after", tx.send_with_flags(b"after", 0).sys());
        o.note("recv after", recv_text(&rx, DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "MSG_PEEK twice, then a real recv", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        tx.send_with_flags(b"first", 0).sys().ctx("send")?;
        tx.send_with_flags(b"second", 0).sys().ctx("send")?;
        o.note("peek", recv_from(f, &rx, 64, libc::MSG_PEEK | DONTWAIT));
        o.note("peek again", recv_from(f, &rx, 64, libc::MSG_PEEK | DONTWAIT));
        o.note("peek short", recv_msg(f, &rx, 3, libc::MSG_PEEK | DONTWAIT));
        o.note("recv", recv_from(f, &rx, 64, DONTWAIT));
        o.note("peek next", recv_text(&rx, libc::MSG_PEEK | DONTWAIT));
        o.note("recv next", recv_text(&rx, DONTWAIT));
        o.note("peek empty", recv_text(&rx, libc::MSG_PEEK | DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "MSG_DONTWAIT and O_NONBLOCK on an empty queue -> EAGAIN", |f, o, ty| {
        let (_tx, rx) = channel(f, ty, "rx")?;
        o.note("recv MSG_DONTWAIT", recv_text(&rx, DONTWAIT));
        o.note("recvmsg MSG_DONTWAIT", recv_msg(f, &rx, 16, DONTWAIT));
        rx.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        o.note("recv on O_NONBLOCK", recv_text(&rx, 0));
        if ty == DGRAM {
            let fresh = f.socket(ty | libc::SOCK_NONBLOCK).ctx("socket")?;
            o.note("recv on a fresh SOCK_NONBLOCK socket", recv_text(&fresh, 0));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "short buffers truncate; MSG_TRUNC returns the full length", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        for m in ["0123456789", "abc", "xyz", "last"] {
            tx.send_with_flags(m.as_bytes(), 0).sys().ctx("send")?;
        }
        o.note("recvmsg into 4 bytes", recv_msg(f, &rx, 4, DONTWAIT));
        o.note("MSG_TRUNC into 2 bytes", recv_msg(f, &rx, 2, libc::MSG_TRUNC | DONTWAIT));
        o.note("MSG_TRUNC|MSG_PEEK into 0 bytes", recv_msg(f, &rx, 0, libc::MSG_TRUNC | libc::MSG_PEEK | DONTWAIT));
        o.note("recvfrom into 1 byte with MSG_TRUNC", recv_from(f, &rx, 1, libc::MSG_TRUNC | DONTWAIT));
        o.note("recvmsg exact", recv_msg(f, &rx, 4, DONTWAIT));
        o.note("queue now", recv_text(&rx, DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "MSG_WAITALL returns one message", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        tx.send_with_flags(b"one", 0).sys().ctx("send")?;
        tx.send_with_flags(b"two", 0).sys().ctx("send")?;
        o.note("recv MSG_WAITALL", recv_text(&rx, libc::MSG_WAITALL));
        o.note("recv MSG_WAITALL|MSG_DONTWAIT", recv_text(&rx, libc::MSG_WAITALL | DONTWAIT));
        o.note("empty, MSG_WAITALL|MSG_DONTWAIT", recv_text(&rx, libc::MSG_WAITALL | DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "MSG_OOB -> EOPNOTSUPP", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("send MSG_OOB", tx.send_with_flags(b"urgent", libc::MSG_OOB).sys());
        o.note("sendmsg MSG_OOB", tx.send_msg(b"urgent", None, None, &[], libc::MSG_OOB).sys());
        tx.send_with_flags(b"normal", 0).sys().ctx("send")?;
        o.note("recv MSG_OOB", recv_text(&rx, libc::MSG_OOB | DONTWAIT));
        o.note("recv", recv_text(&rx, DONTWAIT));
        o.note("queue now", recv_text(&rx, DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "flags AF_UNIX ignores", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        let unknown = 0x20_0000;
        for (name, flag) in [
            ("MSG_EOR", libc::MSG_EOR),
            ("MSG_MORE", libc::MSG_MORE),
            ("MSG_DONTROUTE", libc::MSG_DONTROUTE),
            ("unknown", unknown),
        ] {
            o.note(&format!("send {name}"), tx.send_with_flags(name.as_bytes(), flag).sys());
        }
        for (name, flag) in
            [("MSG_ERRQUEUE", libc::MSG_ERRQUEUE), ("MSG_CMSG_CLOEXEC", libc::MSG_CMSG_CLOEXEC), ("unknown", unknown)]
        {
            o.note(&format!("recvmsg {name}"), recv_msg(f, &rx, 64, flag | DONTWAIT));
        }
        o.note("recvmsg", recv_msg(f, &rx, 64, DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "a message above SO_SNDBUF -> EMSGSIZE", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        tx.set_send_buffer_size(4096).sys().ctx("SO_SNDBUF")?;
        let sndbuf = tx.send_buffer_size().sys().ctx("SO_SNDBUF")?;
        o.note("SO_SNDBUF", sndbuf);
        o.note("send SO_SNDBUF + 1 bytes", tx.send_with_flags(&vec![b'x'; sndbuf + 1], DONTWAIT).sys());
        o.note("send 64 KiB", tx.send_with_flags(&vec![b'x'; 65536], DONTWAIT).sys());
        o.note("send 1 KiB", tx.send_with_flags(&[b'y'; 1024], DONTWAIT).sys());
        o.note("received", client::recv(&rx, 2 * sndbuf, DONTWAIT).map(|d| d.len()));
        if ty == DGRAM {
            o.note(
                "oversized sendto a missing name",
                tx.send_to_with_flags(&vec![b'x'; sndbuf + 1], &f.abstract_("missing"), DONTWAIT).sys(),
            );
        }
        Ok(())
    }));
    v.extend(per_type(mode, "queued messages keep their boundaries", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        let msgs: [&[u8]; 5] = [b"a", &[b'b'; 100], b"ccccccc", b"", b"ddd"];
        for m in msgs {
            tx.send_with_flags(m, 0).sys().ctx("send")?;
        }
        for m in msgs {
            let got = client::recv(&rx, 1000, DONTWAIT);
            crate::ensure!(got.as_deref() == Ok(m), "got {got:?}");
            o.note("recv length", got.map(|d| d.len()));
        }
        o.note("queue now", recv_text(&rx, DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "sendmmsg and recvmmsg", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        let msgs: Vec<(&[u8], Option<&Addr>)> =
            vec![(b"one", None), (b"", None), (b"three", None), (b"four", None)];
        o.note("sendmmsg", sys::sendmmsg(&tx, &msgs, 0));
        let got = sys::recvmmsg(&rx, 3, 4, DONTWAIT, None);
        o.note("recvmmsg 3", got.map(|ms| ms.iter().map(|m| message(f, m)).collect::<Vec<_>>()));
        let got = sys::recvmmsg(&rx, 8, 64, DONTWAIT, None);
        o.note("recvmmsg the rest", got.map(|ms| ms.iter().map(|m| message(f, m)).collect::<Vec<_>>()));
        o.note("recvmmsg empty", sys::recvmmsg(&rx, 8, 64, DONTWAIT, None).map(|ms| ms.len()));
        sys::sendmmsg(&tx, &msgs[..2], 0).ctx("sendmmsg")?;
        o.note("MSG_WAITFORONE", sys::recvmmsg(&rx, 8, 64, libc::MSG_WAITFORONE, None).map(|ms| ms.len()));
        Ok(())
    }));
    v.push(case(mode, "dgram: repeated sendto follows a name through close, rebind and other binds", |f, o| {
        let (n, m) = (f.abstract_("n"), f.abstract_("m"));
        let s = sock(f, DGRAM)?;
        let r1 = bound(f, DGRAM, &n)?;
        o.note("to n (r1)", s.send_to(b"one", &n).sys());
        o.note("to n again", s.send_to(b"two", &n).sys());
        o.note("r1 gets", recv_text(&r1, DONTWAIT));
        o.note("r1 gets", recv_text(&r1, DONTWAIT));
        drop(r1);
        o.note("to n, closed", s.send_to(b"lost", &n).sys());
        o.note("to n, closed, again", s.send_to(b"lost", &n).sys());
        let r2 = bound(f, DGRAM, &n)?;
        o.note("to n (r2 bound there now)", s.send_to(b"three", &n).sys());
        o.note("r2 gets", recv_text(&r2, DONTWAIT));
        // A bind elsewhere, then the same name, then another name, in turns.
        let q = bound(f, DGRAM, &m)?;
        for word in ["four", "five"] {
            o.note("to n", s.send_to(word.as_bytes(), &n).sys());
            o.note("to m", s.send_to(word.as_bytes(), &m).sys());
        }
        o.note("r2 gets", sys::recvmmsg(&r2, 8, 64, DONTWAIT, None).map(|ms| ms.len()));
        o.note("q gets", sys::recvmmsg(&q, 8, 64, DONTWAIT, None).map(|ms| ms.len()));
        // The socket at n closes and another takes the name with no send in
        // between: the next send reaches the new one.
        drop(r2);
        let r3 = bound(f, DGRAM, &n)?;
        o.note("to n (r3)", s.send_to(b"six", &n).sys());
        o.note("r3 gets", recv_text(&r3, DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "dgram: sendmmsg to several destinations", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let c = bound(f, DGRAM, &f.abstract_("c"))?;
        let a = sock(f, DGRAM)?;
        let (pb, ac, missing) = (f.path("b"), f.abstract_("c"), f.abstract_("missing"));
        let msgs: Vec<(&[u8], Option<&Addr>)> = vec![
            (b"b1", Some(&pb)),
            (b"c1", Some(&ac)),
            (b"b2", Some(&pb)),
            (b"lost", Some(&missing)),
            (b"b3", Some(&pb)),
        ];
        o.note("sendmmsg stops at the failing one", sys::sendmmsg(&a, &msgs, 0));
        o.note("b gets", sys::recvmmsg(&b, 8, 64, DONTWAIT, None).map(|ms| ms.len()));
        o.note("c gets", recv_text(&c, DONTWAIT));
        o.note("first one failing", sys::sendmmsg(&a, &msgs[3..], 0));
        o.note("sendmmsg without an address", sys::sendmmsg(&a, &[(b"x", None)], 0));
        Ok(())
    }));
    v.extend(per_type(mode, "sendmsg gathers and recvmsg scatters", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("sendmsg", sys::sendmsg(&tx, &[b"ab", b"", b"cde", b"f"], 0));
        let m = sys::recvmsg(&rx, &RecvOpts { iov: &[2, 1, 10], name: true, control: 0 }, DONTWAIT);
        o.note("recvmsg into 2+1+10", received(f, &m));
        sys::sendmsg(&tx, &[b"gh", b"ijk"], 0).ctx("sendmsg")?;
        let m = sys::recvmsg(&rx, &RecvOpts { iov: &[1, 0, 2], name: true, control: 0 }, DONTWAIT);
        o.note("recvmsg into 1+0+2", received(f, &m));
        Ok(())
    }));
    v.extend(per_type(mode, "recvmsg with msg_name NULL", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        tx.send_with_flags(b"nameless", 0).sys().ctx("send")?;
        let m = sys::recvmsg(&rx, &RecvOpts { iov: &[64], name: false, control: 0 }, DONTWAIT);
        o.note(
            "recvmsg",
            m.as_ref().map(|m| (m.ret, String::from_utf8_lossy(&m.data).into_owned(), msg_flags(m.flags))),
        );
        o.note("msg_namelen left", m.map(|m| m.from.len));
        Ok(())
    }));
    v.extend(per_type(mode, "a NULL buffer with a nonzero length -> EFAULT", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("send from NULL", sys::send_null(&tx, 10, DONTWAIT));
        o.note("queue after", recv_text(&rx, DONTWAIT));
        o.note("send 0 bytes from NULL", sys::send_null(&tx, 0, DONTWAIT));
        o.note("received", recv_text(&rx, DONTWAIT));
        tx.send_with_flags(b"kept?", 0).sys().ctx("send")?;
        o.note("recv into NULL", sys::recv_null(&rx, 10, DONTWAIT));
        o.note("queue after", recv_text(&rx, DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: a destination address on a connected socket is ignored", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        let other = bound(f, SEQPACKET, &f.abstract_("other"))?;
        other.listen(1).sys().ctx("listen")?;
        o.note("sendto another socket", c.send_to(b"one", &f.abstract_("other")).sys());
        o.note("sendto a missing name", c.send_to(b"two", &f.abstract_("missing")).sys());
        o.note("addrlen 111", sys::addr_op_len(AddrOp::SendTo, &c, &f.raw(&f.path("x")), 111));
        o.note("addrlen 129", sys::addr_op_len(AddrOp::SendTo, &c, &f.raw(&f.path("x")), 129));
        for _ in 0..3 {
            o.note("the peer receives", recv_text(&s, DONTWAIT));
        }
        other.set_nonblocking(true).sys().ctx("O_NONBLOCK")?;
        o.note("the other socket got no connection", other.accept().sys().map(|_| ()));
        o.note("unconnected sendto", sock(f, SEQPACKET).map(|u| u.send_to(b"x", &f.abstract_("other")).sys())?);
        Ok(())
    }));
    v
}
