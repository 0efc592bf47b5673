//! poll(), epoll and flow control.
//!
//! Flow control is an intentional difference (see `full_channel`): cases
//! record that a receiver fills up and what the sender sees then, never how
//! many messages fit; SIOCOUTQ values are not compared either.

use super::*;
use crate::sys::Epoll;

const DONTWAIT: i32 = libc::MSG_DONTWAIT;
const MSG: [u8; 100] = [b'x'; 100];

/// epoll_wait() results as observed.
fn ready(ep: &Epoll, timeout_ms: i32) -> SysResult<Vec<String>> {
    ep.wait(timeout_ms).map(|evs| evs.into_iter().map(events).collect())
}

pub fn cases(mode: Mode) -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(per_type(mode, "poll on fresh, bound and connected sockets", |f, o, ty| {
        o.note("fresh", poll_now(&sock(f, ty)?));
        o.note("bound", poll_now(&bound(f, ty, &f.abstract_("b"))?));
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("sender", poll_now(&tx));
        o.note("receiver", poll_now(&rx));
        if ty == SEQPACKET {
            let (l, _) = listener(f, "l")?;
            o.note("listener", poll_now(&l));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "POLLIN while a message is queued; a blocked poll wakes up", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        o.note("empty, 50 ms poll for POLLIN", sys::poll(&rx, libc::POLLIN, 50).map(|e| events(e as u16 as u32)));
        tx.send_with_flags(b"one", 0).sys().ctx("send")?;
        o.note("one queued", poll_now(&rx));
        client::recv(&rx, 16, DONTWAIT).ctx("recv")?;
        o.note("read", poll_now(&rx));
        // The thread shares the sender, so its end stays open whatever the timing.
        let tx = Arc::new(tx);
        let shared = tx.clone();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            shared.send_with_flags(b"later", 0).sys()
        });
        o.note("blocking poll", sys::poll(&rx, libc::POLLIN, 5000).map(|e| events(e as u16 as u32)));
        let sent = sender.join().map_err(|_| "sender thread panicked".to_string())?;
        o.note("the thread sent", sent);
        Ok(())
    }));
    v.push(case(mode, "seqpacket: POLLRDHUP and POLLHUP after the peer's shutdown and close", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        o.note("connected", poll_now(&c));
        s.shutdown(std::net::Shutdown::Write).sys().ctx("shutdown")?;
        o.note("peer shut down writing", poll_now(&c));
        s.shutdown(std::net::Shutdown::Read).sys().ctx("shutdown")?;
        o.note("peer shut down both", poll_now(&c));
        drop(s);
        o.note("peer closed", poll_now(&c));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: epoll EPOLLRDHUP and EPOLLHUP edges", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        let ep = Epoll::new().ctx("epoll")?;
        ep.add(&c, (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32).ctx("epoll_ctl")?;
        o.note("connected", ready(&ep, 0));
        s.shutdown(std::net::Shutdown::Write).sys().ctx("shutdown")?;
        o.note("peer shut down writing", ready(&ep, 0));
        o.note("again", ready(&ep, 0));
        drop(s);
        o.note("peer closed", ready(&ep, 0));
        Ok(())
    }));
    v.extend(per_type(mode, "epoll with EPOLLET reports each arrival once", |f, o, ty| {
        let (tx, rx) = channel(f, ty, "rx")?;
        let et = Epoll::new().ctx("epoll")?;
        et.add(&rx, (libc::EPOLLIN | libc::EPOLLET) as u32).ctx("epoll_ctl")?;
        let lt = Epoll::new().ctx("epoll")?;
        lt.add(&rx, libc::EPOLLIN as u32).ctx("epoll_ctl")?;
        o.note("empty", ready(&et, 0));
        tx.send_with_flags(b"a", 0).sys().ctx("send")?;
        o.note("first arrival", ready(&et, 0));
        o.note("nothing new", ready(&et, 0));
        tx.send_with_flags(b"b", 0).sys().ctx("send")?;
        o.note("second arrival", ready(&et, 0));
        client::recv(&rx, 16, DONTWAIT).ctx("recv")?;
        o.note("after reading one", ready(&et, 0));
        o.note("level-triggered", ready(&lt, 0));
        o.note("level-triggered again", ready(&lt, 0));
        client::recv(&rx, 16, DONTWAIT).ctx("recv")?;
        o.note("level-triggered when empty", ready(&lt, 0));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: a listener polls POLLIN while a connection is pending", |f, o| {
        let (l, a) = listener(f, "srv")?;
        let ep = Epoll::new().ctx("epoll")?;
        ep.add(&l, (libc::EPOLLIN | libc::EPOLLET) as u32).ctx("epoll_ctl")?;
        o.note("nothing pending", poll_now(&l));
        o.note("epoll, nothing pending", ready(&ep, 0));
        let c = sock(f, SEQPACKET)?;
        c.connect(&a).sys().ctx("connect")?;
        o.note("one pending", poll_now(&l));
        o.note("epoll, one pending", ready(&ep, 0));
        let _s = l.accept().sys().ctx("accept")?;
        o.note("accepted", poll_now(&l));
        Ok(())
    }));
    v.push(case(mode, "dgram: flow control of a connected sender", |f, o| {
        o.note("POLLOUT before", writable(&channel(f, DGRAM, "fresh")?.0));
        let (tx, rx) = full_channel(f, o, DGRAM)?;
        o.note("POLLOUT when full", writable(&tx));
        o.note("sendto the same peer", tx.send_to_with_flags(&MSG, &f.path("rx"), DONTWAIT).sys());
        o.note("read one", client::recv(&rx, 256, DONTWAIT).map(|d| d.len()));
        o.note("send after reading one", tx.send_with_flags(&MSG, DONTWAIT).sys());
        drain(&rx);
        o.note("POLLOUT after draining", writable(&tx));
        o.note("send after draining", tx.send_with_flags(&MSG, DONTWAIT).sys());
        Ok(())
    }));
    v.push(case(mode, "dgram: flow control of an unconnected sender", |f, o| {
        let rx = bound(f, DGRAM, &f.path("rx"))?;
        let other = bound(f, DGRAM, &f.path("other"))?;
        small_rcvbuf(&rx)?;
        let tx = sock(f, DGRAM)?;
        o.note("filled until EAGAIN", fill(&tx, Some(&f.path("rx")), &MSG).map(|_| ()));
        o.note("another receiver still takes messages", tx.send_to_with_flags(&MSG, &f.path("other"), DONTWAIT).sys());
        o.note("it received", client::recv(&other, 256, DONTWAIT).map(|d| d.len()));
        o.note("read one", client::recv(&rx, 256, DONTWAIT).map(|d| d.len()));
        o.note("sendto after reading one", tx.send_to_with_flags(&MSG, &f.path("rx"), DONTWAIT).sys());
        Ok(())
    }));
    v.push(case(mode, "seqpacket: flow control", |f, o| {
        let (tx, rx) = full_channel(f, o, SEQPACKET)?;
        o.note("POLLOUT when full", writable(&tx));
        o.note("the peer can still send back", rx.send_with_flags(b"back", DONTWAIT).sys());
        o.note("read one", client::recv(&rx, 256, DONTWAIT).map(|d| d.len()));
        o.note("send after reading one", tx.send_with_flags(&MSG, DONTWAIT).sys());
        drain(&rx);
        o.note("POLLOUT after draining", writable(&tx));
        Ok(())
    }));
    v.extend(per_type(mode, "epoll wakes a blocked sender when the receiver drains", |f, o, ty| {
        let (tx, rx) = full_channel(f, o, ty)?;
        let ep = Epoll::new().ctx("epoll")?;
        ep.add(&tx, (libc::EPOLLOUT | libc::EPOLLET) as u32).ctx("epoll_ctl")?;
        o.note("full", ready(&ep, 0));
        drain(&rx);
        o.note("drained", ready(&ep, 100));
        Ok(())
    }));
    v
}
