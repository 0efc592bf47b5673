//! The client library's typed sockets on the module's family: what the
//! host tests can only show refused (joining, admitting, drop counts) works
//! here end to end.

use crate::harness::{expect_eq, Case};
use crate::mcast::fresh;
use crate::{case, ensure};
use mcast_unix::{McastDatagram, McastGroupListener, McastSeqpacket, MembershipFlags};
use std::os::fd::AsFd;

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "typed", "McastDatagram: a group owner, members joined with MembershipFlags, one send_to reaches them all", |af| {
        let g = fresh("typed-dg");
        let _owner = McastDatagram::create_group_in(af, &g).map_err(|e| e.to_string())?;
        let plain = McastDatagram::unbound_in(af).map_err(|e| e.to_string())?;
        plain.join_group(&g, MembershipFlags::empty()).map_err(|e| e.to_string())?;
        let me = McastDatagram::unbound_in(af).map_err(|e| e.to_string())?;
        me.join_group(&g, MembershipFlags::LOOPBACK | MembershipFlags::DROP_WHEN_FULL).map_err(|e| e.to_string())?;
        me.set_pass_sender_id(true).map_err(|e| e.to_string())?;
        me.send_to(b"typed", &g).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 16];
        expect_eq("plain member", plain.recv(&mut buf).map_err(|e| e.to_string()).map(|n| buf[..n].to_vec()), Ok(b"typed".to_vec()))?;
        let meta = me.recv_msg(&mut buf).map_err(|e| e.to_string())?;
        expect_eq("own copy (LOOPBACK) with the sender id", (&buf[..meta.len], meta.sender_id), (&b"typed"[..], me.id().ok()))?;
        me.leave_group(&g).map_err(|e| e.to_string())?;
        expect_eq("leave twice", me.leave_group(&g).map_err(|e| e.raw_os_error()), Err(Some(libc::EADDRNOTAVAIL)))
    });
    case!(v, "typed", "McastGroupListener: accept gives McastAccepted, admit_member(SEND_TO_PEER) makes the client a member", |af| {
        let g = fresh("typed-seq");
        let owner = McastGroupListener::create_in(af, &g).map_err(|e| e.to_string())?;
        let a = McastSeqpacket::connect_in(af, &g).map_err(|e| e.to_string())?;
        let (conn_a, _) = owner.accept().map_err(|e| e.to_string())?;
        let b = McastSeqpacket::connect_in(af, &g).map_err(|e| e.to_string())?;
        let (conn_b, _) = owner.accept().map_err(|e| e.to_string())?;
        expect_eq("peer_id of the accepted connection", conn_a.peer_id().ok(), a.id().ok())?;
        conn_a.admit_member(MembershipFlags::SEND_TO_PEER).map_err(|e| e.to_string())?;
        conn_b.admit_member(MembershipFlags::empty()).map_err(|e| e.to_string())?;
        expect_eq("admitting twice", conn_b.admit_member(MembershipFlags::empty()).map_err(|e| e.raw_os_error()), Err(Some(libc::EALREADY)))?;
        a.send(b"to the room").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 32];
        expect_eq("member b", b.recv(&mut buf).map_err(|e| e.to_string()).map(|n| buf[..n].to_vec()), Ok(b"to the room".to_vec()))?;
        expect_eq("the owner's copy (SEND_TO_PEER)", conn_a.recv(&mut buf).map_err(|e| e.to_string()).map(|n| buf[..n].to_vec()), Ok(b"to the room".to_vec()))?;
        Ok(())
    });
    case!(v, "typed", "McastDatagram: a DROP_WHEN_FULL member's losses show in recv_msg's drop count", |af| {
        let g = fresh("typed-drop");
        let _owner = McastDatagram::create_group_in(af, &g).map_err(|e| e.to_string())?;
        let slow = McastDatagram::unbound_in(af).map_err(|e| e.to_string())?;
        slow.set_recv_buffer_size(4096).map_err(|e| e.to_string())?;
        slow.set_recv_overflow(true).map_err(|e| e.to_string())?;
        slow.join_group(&g, MembershipFlags::DROP_WHEN_FULL).map_err(|e| e.to_string())?;
        let tx = McastDatagram::unbound_in(af).map_err(|e| e.to_string())?;
        for _ in 0..200 {
            tx.send_to(&[7u8; 200], &g).map_err(|e| e.to_string())?;
        }
        // The count travels with messages queued after the drops (SO_RXQ_OVFL).
        let mut buf = [0u8; 256];
        slow.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut queued = 0;
        while slow.recv(&mut buf).is_ok() {
            queued += 1;
        }
        ensure!(queued > 0 && queued < 200, "{queued} of 200 queued at a 4 KiB receive buffer");
        tx.send_to(b"after", &g).map_err(|e| e.to_string())?;
        let meta = slow.recv_msg(&mut buf).map_err(|e| e.to_string())?;
        expect_eq("drop count", meta.dropped, Some(200 - queued))?;
        let _ = tx.as_fd();
        Ok(())
    });
    let _ = af;
    v
}
