//! Sender identity (MCAST_UNIX_PASS_SENDER_ID, MCAST_UNIX_SENDER_ID,
//! MCAST_UNIX_PEER_ID): the kernel stamps every message with the id of the
//! socket that sent it (its SO_COOKIE); a receiver that asks gets it, no
//! sender can choose it, and a group owner can read it for each accepted
//! connection.

use crate::harness::{expect_eq, Case};
use crate::mcast::*;
use crate::seqgroups::Bus;
use crate::sys::{Errno, IntoSys};
use crate::{case, ensure};
use mcast_unix::{Socket, MCAST_UNIX_PASS_SENDER_ID as PASS, MCAST_UNIX_PEER_ID as PEER_ID, MCAST_UNIX_SENDER_ID, SOL_MCAST_UNIX};
use std::os::fd::AsRawFd;

const D: i32 = libc::SOCK_DGRAM;
const S: i32 = libc::SOCK_SEQPACKET;

/// The next message at `rx` and the sender id it carries.
fn recv_id(rx: &Socket) -> Result<(Vec<u8>, Option<u64>), String> {
    let mut buf = [0u8; 256];
    let m = rx.recv_msg(&mut buf, libc::MSG_DONTWAIT).map_err(|e| format!("recvmsg: {e}"))?;
    Ok((buf[..m.len].to_vec(), m.sender_id))
}

/// getsockopt(SOL_MCAST_UNIX, `name`) into a buffer of `cap` bytes: the
/// bytes the kernel wrote back (its optlen) or the errno.
fn getopt_raw(s: &impl AsRawFd, name: i32, cap: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; cap];
    let mut len = cap as libc::socklen_t;
    // SAFETY: `buf` and `len` describe a writable buffer of `cap` bytes.
    let r = unsafe { libc::getsockopt(s.as_raw_fd(), SOL_MCAST_UNIX, name, buf.as_mut_ptr().cast(), &mut len) };
    if r < 0 {
        return Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)));
    }
    buf.truncate(len as usize);
    Ok(buf)
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "identity", "a receiver that asks gets the sender's SO_COOKIE with each unicast message; one that does not, nothing", |af| {
        let rx = sock(af, D);
        let a = fresh("id-rx");
        rx.bind(&a).sys().expect("bind");
        let tx = sock(af, D);
        tx.send_to(b"before", &a).sys().expect("send");
        expect_eq("without the option", recv_id(&rx)?, (b"before".to_vec(), None))?;
        rx.set_pass_sender_id(true).sys().expect("set");
        expect_eq("read back", rx.pass_sender_id().sys(), Ok(true))?;
        tx.send_to(b"after", &a).sys().expect("send");
        let id = tx.id().sys().expect("SO_COOKIE");
        ensure!(id != 0, "SO_COOKIE 0");
        expect_eq("with the option", recv_id(&rx)?, (b"after".to_vec(), Some(id)))?;
        let other = sock(af, D);
        other.send_to(b"other", &a).sys().expect("send");
        let (_, got) = recv_id(&rx)?;
        ensure!(got.is_some() && got != Some(id), "a second sender's id {got:?} (first {id})");
        rx.set_pass_sender_id(false).sys().expect("clear");
        tx.send_to(b"off", &a).sys().expect("send");
        expect_eq("after clearing it", recv_id(&rx)?, (b"off".to_vec(), None))
    });
    case!(v, "identity", "every member of a datagram group gets the sender's id; a forged SOL_MCAST_UNIX control message changes nothing", |af| {
        let (_owner, a) = dgram_group(af);
        let ms = members(af, &a, 3, 0);
        for m in &ms {
            m.set_pass_sender_id(true).sys().expect("set");
        }
        let tx = sock(af, D);
        let id = tx.id().sys().expect("SO_COOKIE");
        tx.send_to(b"to all", &a).sys().expect("send");
        for (i, m) in ms.iter().enumerate() {
            expect_eq(&format!("member {i}"), recv_id(m)?, (b"to all".to_vec(), Some(id)))?;
        }
        // A sender cannot choose the id: ancillary data of the family's
        // level is not a sender's to give (it is ignored, as AF_UNIX ignores
        // levels it does not know).
        let forged = 0x4141_4141_4141_4141u64;
        let r = forged_send(&tx, &a, forged);
        expect_eq("sendmsg with a forged id", r, Ok(1))?;
        for (i, m) in ms.iter().enumerate() {
            expect_eq(&format!("member {i} after the forgery"), recv_id(m)?.1, Some(id))?;
        }
        Ok(())
    });
    case!(v, "identity", "a seqpacket member's group messages carry its id, which the owner reads as MCAST_UNIX_PEER_ID of the accepted connection", |af| {
        let bus = Bus::new(af);
        let a = bus.member(0);
        let b = bus.member(0);
        b.client.set_pass_sender_id(true).sys().expect("set");
        let a_id = a.client.id().sys().expect("SO_COOKIE");
        expect_eq("PEER_ID of a's accepted socket", a.accepted.peer_id().sys(), Ok(a_id))?;
        expect_eq("PEER_ID of a's client: the owner's accepted socket", a.client.peer_id().sys(), a.accepted.id().sys())?;
        a.client.send(b"hello group").sys().expect("send");
        expect_eq("at b", recv_id(&b.client)?, (b"hello group".to_vec(), Some(a_id)))?;
        drop(bus);
        Ok(())
    });
    case!(v, "identity", "MCAST_UNIX_PEER_ID: ENOTCONN without a peer; the datagram peer's id once connected", |af| {
        let s = sock(af, D);
        expect_eq("unconnected", s.peer_id().sys().err(), Some(Errno(libc::ENOTCONN)))?;
        let rx = sock(af, D);
        let a = fresh("id-peer");
        rx.bind(&a).sys().expect("bind");
        s.connect(&a).sys().expect("connect");
        expect_eq("connected", s.peer_id().sys(), rx.id().sys())?;
        let l = sock(af, S);
        expect_eq("seqpacket, unconnected", l.peer_id().sys().err(), Some(Errno(libc::ENOTCONN)))
    });
    case!(v, "identity", "getsockopt lengths as SOL_SOCKET's: short buffers get a prefix, negative -> EINVAL, bad pointer -> EFAULT; other options -> ENOPROTOOPT", |af| {
        let s = sock(af, D);
        s.set_pass_sender_id(true).sys().expect("set");
        expect_eq("int, 4 bytes", getopt_raw(&s, PASS, 4), Ok(1i32.to_ne_bytes().to_vec()))?;
        expect_eq("int, 16 bytes: 4 written", getopt_raw(&s, PASS, 16).map(|b| b.len()), Ok(4))?;
        expect_eq("int, 2 bytes: a prefix", getopt_raw(&s, PASS, 2).map(|b| b.len()), Ok(2))?;
        expect_eq("int, 0 bytes", getopt_raw(&s, PASS, 0).map(|b| b.len()), Ok(0))?;
        let mut len: libc::socklen_t = (-1i32) as libc::socklen_t;
        let mut buf = [0u8; 8];
        // SAFETY: valid buffer; the length is deliberately negative.
        let r = unsafe { libc::getsockopt(s.as_raw_fd(), SOL_MCAST_UNIX, PASS, buf.as_mut_ptr().cast(), &mut len) };
        expect_eq("negative optlen", (r, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EINVAL)))?;
        let mut len: libc::socklen_t = 8;
        // SAFETY: the value pointer is deliberately bad; the kernel checks it.
        let r = unsafe { libc::getsockopt(s.as_raw_fd(), SOL_MCAST_UNIX, PASS, 8usize as *mut libc::c_void, &mut len) };
        expect_eq("bad value pointer", (r, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EFAULT)))?;
        // SAFETY: as above, the length pointer this time.
        let r = unsafe { libc::getsockopt(s.as_raw_fd(), SOL_MCAST_UNIX, PASS, buf.as_mut_ptr().cast(), 8usize as *mut libc::socklen_t) };
        expect_eq("bad length pointer", (r, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EFAULT)))?;
        for name in [mcast_unix::MCAST_UNIX_CREATE_GROUP, mcast_unix::MCAST_UNIX_JOIN_GROUP, mcast_unix::MCAST_UNIX_PEER_FILTER, 99] {
            expect_eq(&format!("option {name}"), getopt_raw(&s, name, 8).err(), Some(Errno(libc::ENOPROTOOPT)))?;
        }
        // Setting: an int, at least 4 bytes; PEER_ID is read-only.
        expect_eq("set with 2 bytes", err(setopt(&s, SOL_MCAST_UNIX, PASS, &[1, 0])), Some(Errno(libc::EINVAL)))?;
        expect_eq("set PEER_ID", err(setopt(&s, SOL_MCAST_UNIX, PEER_ID, &[0; 8])), Some(Errno(libc::ENOPROTOOPT)))?;
        let _ = af;
        Ok(())
    });
    case!(v, "identity", "a message still queued keeps the id of a sender that closed", |af| {
        let rx = sock(af, D);
        let a = fresh("id-closed");
        rx.bind(&a).sys().expect("bind");
        rx.set_pass_sender_id(true).sys().expect("set");
        let tx = sock(af, D);
        let id = tx.id().sys().expect("SO_COOKIE");
        tx.send_to(b"last words", &a).sys().expect("send");
        drop(tx);
        expect_eq("after the sender closed", recv_id(&rx)?, (b"last words".to_vec(), Some(id)))
    });
    v
}

/// sendmsg of one byte to `a` with a control message of level
/// SOL_MCAST_UNIX, type MCAST_UNIX_SENDER_ID claiming `id`.
fn forged_send(tx: &Socket, a: &mcast_unix::Addr, id: u64) -> Result<usize, Errno> {
    let sa = crate::sys::SockAddr::of(tx.family(), a);
    let data = [0x42u8];
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: 1 };
    let mut control = [0u64; 8];
    // SAFETY: all-zero is a valid msghdr; every pointer is valid for the
    // length given with it; the one cmsghdr fits in `control`.
    unsafe {
        let mut m: libc::msghdr = std::mem::zeroed();
        m.msg_name = (&sa.sun as *const libc::sockaddr_un) as *mut _;
        m.msg_namelen = sa.len;
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = libc::CMSG_SPACE(8) as _;
        let c = libc::CMSG_FIRSTHDR(&m);
        (*c).cmsg_level = SOL_MCAST_UNIX;
        (*c).cmsg_type = MCAST_UNIX_SENDER_ID;
        (*c).cmsg_len = libc::CMSG_LEN(8) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u64>(), id);
        let r = libc::sendmsg(tx.as_raw_fd(), &m, libc::MSG_DONTWAIT);
        if r < 0 {
            Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)))
        } else {
            Ok(r as usize)
        }
    }
}
