//! The five ways of getting one message to N local receivers, each set up
//! with N blocking receiver sockets and one sender:
//!
//! - `mcast_unix`: one sendto to a datagram group of N members (flags 0:
//!   a full member holds the sender back);
//! - `unix_loop`: one sendto per receiver over N bound AF_UNIX datagram
//!   sockets;
//! - `unix_sendmmsg`: one sendmmsg carrying N messages addressed to the N
//!   bound AF_UNIX receivers;
//! - `broker`: a send to a relay thread over AF_UNIX, which receives it and
//!   sends it to each of the N receivers (the dbus-daemon architecture);
//! - `udp_mcast`: one sendto to an IPv4 multicast group on `lo` with
//!   IP_MULTICAST_LOOP, N UDP sockets joined to it (the in-kernel peer).
//!
//! Default buffer sizes everywhere except the UDP receivers: UDP has no
//! back-pressure, so they get a larger SO_RCVBUF (see [`udp_rcvbuf`]) and
//! whatever overflows anyway is counted as lost by the receivers.

use super::sys::{self, UnixAddr};
use crate::addr;
use mcast_unix::{Addr, Socket};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread::JoinHandle;

/// The systems, in the order they are reported.
pub const SYSTEMS: [Kind; 5] = [Kind::McastUnix, Kind::UnixLoop, Kind::UnixSendmmsg, Kind::Broker, Kind::UdpMcast];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    McastUnix,
    UnixLoop,
    UnixSendmmsg,
    Broker,
    UdpMcast,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::McastUnix => "mcast_unix",
            Kind::UnixLoop => "unix_loop",
            Kind::UnixSendmmsg => "unix_sendmmsg",
            Kind::Broker => "broker",
            Kind::UdpMcast => "udp_mcast",
        }
    }
}

/// First word of a message that tells the relay to stop (no benchmark
/// message has this sequence number).
pub const RELAY_QUIT: u64 = u64::MAX;

/// The multicast group of `udp_mcast` (administratively scoped).
const UDP_GROUP: [u8; 4] = [239, 77, 0, 1];

/// SO_RCVBUF of each UDP receiver: room for a burst, bounded so that N
/// receivers' queues of skb clones cannot exhaust the VM's memory.
fn udp_rcvbuf(n: usize) -> libc::c_int {
    ((256usize << 20) / n).clamp(212_992, 8 << 20) as libc::c_int
}

enum Sender {
    Group { s: Socket, group: Addr },
    Loop { fd: OwnedFd, to: Vec<UnixAddr> },
    Mmsg { fd: OwnedFd, to: Vec<UnixAddr> },
    Broker { s: Socket, relay: Option<JoinHandle<io::Result<()>>> },
    Udp { fd: OwnedFd, to: libc::sockaddr_in },
}

/// One system with N receivers, ready to send.
pub struct Setup {
    pub kind: Kind,
    /// The receivers' sockets (blocking); the receiver threads use their fds.
    rx: Vec<OwnedFd>,
    sender: Sender,
    /// Sockets that must stay open (the group's owner).
    _keep: Vec<Socket>,
}

/// N bound AF_UNIX datagram receivers and their raw addresses.
fn unix_receivers(n: usize) -> io::Result<(Vec<OwnedFd>, Vec<UnixAddr>)> {
    let (mut rx, mut to) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let s = Socket::dgram_in(libc::AF_UNIX)?;
        let a = addr(&format!("rx-{i}"))?;
        s.bind(&a)?;
        to.push(a.to_raw(libc::AF_UNIX as libc::sa_family_t));
        rx.push(s.into());
    }
    Ok((rx, to))
}

impl Setup {
    /// `kind` with `n` receivers; `family` is the module's.
    pub fn new(kind: Kind, n: usize, family: i32) -> io::Result<Setup> {
        let mut keep = Vec::new();
        let (rx, sender) = match kind {
            Kind::McastUnix => {
                let owner = Socket::dgram_in(family)?;
                let group = addr("group")?;
                owner.create_group(&group)?;
                let mut rx = Vec::with_capacity(n);
                for i in 0..n {
                    let m = Socket::dgram_in(family)?;
                    m.bind(&addr(&format!("member-{i}"))?)?;
                    m.join_group(&group, 0)?;
                    rx.push(m.into());
                }
                keep.push(owner);
                (rx, Sender::Group { s: Socket::dgram_in(family)?, group })
            }
            Kind::UnixLoop | Kind::UnixSendmmsg => {
                let (rx, to) = unix_receivers(n)?;
                let fd = sys::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
                (rx, if kind == Kind::UnixLoop { Sender::Loop { fd, to } } else { Sender::Mmsg { fd, to } })
            }
            Kind::Broker => {
                let (rx, to) = unix_receivers(n)?;
                let relay_sock = Socket::dgram_in(libc::AF_UNIX)?;
                let relay_addr = addr("relay")?;
                relay_sock.bind(&relay_addr)?;
                let out = sys::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
                // Like the other senders' (run.rs): a hang becomes an error.
                let tv = libc::timeval { tv_sec: 60, tv_usec: 0 };
                sys::setopt(out.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDTIMEO, &tv)?;
                let relay = std::thread::Builder::new()
                    .name("relay".into())
                    .spawn(move || relay(relay_sock, out, to))?;
                let s = Socket::dgram_in(libc::AF_UNIX)?;
                s.connect(&relay_addr)?;
                (rx, Sender::Broker { s, relay: Some(relay) })
            }
            Kind::UdpMcast => udp(n)?,
        };
        Ok(Setup { kind, rx, sender, _keep: keep })
    }

    /// The receivers' descriptors.
    pub fn rx_fds(&self) -> Vec<RawFd> {
        self.rx.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// Sends `msg` to every receiver (blocking).
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        match &self.sender {
            Sender::Group { s, group } => {
                let k = s.send_to(msg, group)?;
                if k == msg.len() {
                    Ok(())
                } else {
                    Err(crate::invalid("short send"))
                }
            }
            Sender::Loop { fd, to } => to.iter().try_for_each(|(a, l)| sys::send_to(fd.as_raw_fd(), msg, a, *l)),
            Sender::Mmsg { fd, to } => sys::sendmmsg_all(fd.as_raw_fd(), msg, to),
            Sender::Broker { s, .. } => sys::send(s.as_raw_fd(), msg),
            Sender::Udp { fd, to } => {
                sys::send_to(fd.as_raw_fd(), msg, to, std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)
            }
        }
    }

    /// The sending socket (for broker, the one to the relay).
    pub fn sender_fd(&self) -> RawFd {
        match &self.sender {
            Sender::Group { s, .. } | Sender::Broker { s, .. } => s.as_raw_fd(),
            Sender::Loop { fd, .. } | Sender::Mmsg { fd, .. } | Sender::Udp { fd, .. } => fd.as_raw_fd(),
        }
    }

    /// Whether the system may drop a message (UDP, when a receive buffer
    /// is full).
    pub fn lossy(&self) -> bool {
        self.kind == Kind::UdpMcast
    }

    /// The relay thread (broker only), for its CPU clock.
    pub fn relay_thread(&self) -> Option<libc::pthread_t> {
        use std::os::unix::thread::JoinHandleExt;
        match &self.sender {
            Sender::Broker { relay: Some(h), .. } => Some(h.as_pthread_t() as libc::pthread_t),
            _ => None,
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Sender::Broker { s, relay } = &mut self.sender {
            let mut quit = [0u8; 64];
            quit[..8].copy_from_slice(&RELAY_QUIT.to_ne_bytes());
            let _ = sys::send(s.as_raw_fd(), &quit);
            if let Some(h) = relay.take() {
                if let Ok(Err(e)) = h.join() {
                    eprintln!("mcast-bench: relay: {e}");
                }
            }
        }
    }
}

/// The broker's relay: receives each message and sends it to every receiver.
fn relay(rx: Socket, out: OwnedFd, to: Vec<UnixAddr>) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = sys::recv(rx.as_raw_fd(), &mut buf)?;
        if n >= 8 && buf[..8] == RELAY_QUIT.to_ne_bytes() {
            return Ok(());
        }
        for (a, l) in &to {
            sys::send_to(out.as_raw_fd(), &buf[..n], a, *l)?;
        }
    }
}

/// N UDP sockets joined to [`UDP_GROUP`] on `lo`, on a port of their own,
/// and a sender with IP_MULTICAST_LOOP and TTL 0 (a multicast with TTL 0
/// does not leave the host: only the looped-back copy is delivered).
fn udp(n: usize) -> io::Result<(Vec<OwnedFd>, Sender)> {
    static PORT: AtomicU16 = AtomicU16::new(40000);
    let port = PORT.fetch_add(1, Ordering::Relaxed);
    let lo = sys::ifindex("lo")? as libc::c_int;
    let group = libc::in_addr { s_addr: u32::from_ne_bytes(UDP_GROUP) };
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: group,
        sin_zero: [0; 8],
    };
    let mreq = libc::ip_mreqn { imr_multiaddr: group, imr_address: libc::in_addr { s_addr: 0 }, imr_ifindex: lo };
    let mut rx = Vec::with_capacity(n);
    for _ in 0..n {
        let fd = sys::socket(libc::AF_INET, libc::SOCK_DGRAM)?;
        let raw = fd.as_raw_fd();
        sys::setopt_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        sys::setopt_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, udp_rcvbuf(n))?;
        // SAFETY: `to` is a valid sockaddr_in of the length given.
        sys::cvt(unsafe {
            libc::bind(
                raw,
                (&to as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        })?;
        sys::setopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
        rx.push(fd);
    }
    let fd = sys::socket(libc::AF_INET, libc::SOCK_DGRAM)?;
    let raw = fd.as_raw_fd();
    sys::setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
    sys::setopt_int(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 1)?;
    sys::setopt_int(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, 0)?;
    Ok((rx, Sender::Udp { fd, to }))
}
