//! Seqpacket groups: admission by the owner, fan-out from admitted members
//! (contract: "Seqpacket groups", "Leaving and closing").

use crate::{case, ensure};
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use crate::harness::{expect_eq, Case};
use crate::mcast::*;
use crate::client;
use crate::sys::{self, IntoSys, Errno};
use mcast_unix::Addr;
use mcast_unix::{MCAST_UNIX_DROP_WHEN_FULL as DROP, MCAST_UNIX_LOOPBACK as LOOP, MCAST_UNIX_SEND_TO_PEER as TO_PEER};

const S: i32 = libc::SOCK_SEQPACKET;

/// A seqpacket group: the listening owner and its address.
pub struct Bus {
    pub owner: Socket,
    pub addr: Addr,
    af: i32,
}

/// One connection: the client and the owner's accepted socket.
pub struct Conn {
    pub client: Socket,
    pub accepted: Socket,
}

impl Bus {
    pub fn new(af: i32) -> Bus {
        let owner = sock(af, S);
        let addr = fresh("bus");
        create_group(&owner, &addr).expect("create");
        owner.listen(64).sys().expect("listen");
        Bus { owner, addr, af }
    }

    pub fn connect(&self) -> Conn {
        let client = sock(self.af, S);
        client.connect(&self.addr).sys().expect("connect");
        let (accepted, _) = self.owner.accept().sys().expect("accept");
        Conn { client, accepted }
    }

    /// A connection admitted with `flags`.
    pub fn member(&self, flags: u32) -> Conn {
        let c = self.connect();
        admit(&c.accepted, flags).expect("admit");
        c
    }
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "seqgroup", "a client sending while the owner admits it (SEND_TO_PEER): every message reaches the owner once, in order (unicast before, the peer copy after)", |af| {
        // Before admission the connection is unicast to the owner; after it,
        // the member's messages go to the group and the owner's accepted
        // socket gets its copy. A message sent while ADMIT runs must be one
        // or the other, never a group message without the owner's copy.
        let bus = Bus::new(af);
        let watcher = bus.member(0);
        let mut in_group = 0;
        for round in 0..150u32 {
            let c = bus.connect();
            let n = 60u32;
            let client = c.client;
            // The client stays open until the round is checked (it is handed
            // back): a closed client could not be admitted.
            let sender = std::thread::spawn(move || -> Result<Socket, String> {
                for i in 0..n {
                    client.send_with_flags(&i.to_ne_bytes(), 0).sys().map_err(|e| format!("send {i}: {e:?}"))?;
                }
                Ok(client)
            });
            // Admit somewhere in the middle of the client's stream.
            std::thread::sleep(std::time::Duration::from_micros(50 * (round % 20) as u64));
            admit(&c.accepted, TO_PEER).map_err(|e| format!("admit: {e:?}"))?;
            let _client = sender.join().map_err(|_| "sender panicked".to_string())??;
            let got: Vec<u32> = drain(&c.accepted).iter().map(|d| u32::from_ne_bytes(d[..4].try_into().unwrap())).collect();
            let expected: Vec<u32> = (0..n).collect();
            expect_eq(&format!("round {round}: the owner's accepted socket"), got, expected)?;
            in_group += drain(&watcher.client).len();
        }
        // The watcher saw the group part of the streams (not a fixed number:
        // it depends on where ADMIT fell), so admissions did land mid-stream.
        ensure!(in_group > 0);
        Ok(())
    });
    case!(v, "seqgroup", "a non-admitted client receives nothing from the group", |af| {
        let bus = Bus::new(af);
        let m = bus.member(0);
        let outsider = bus.connect();
        let other = bus.member(0);
        m.client.send_with_flags(b"to all", 0).sys().unwrap();
        expect_eq("outsider", drain(&outsider.client).len(), 0)?;
        expect_eq("member", drain(&other.client), vec![b"to all".to_vec()])
    });
    case!(v, "seqgroup", "before admission the connection is plain unicast", |af| {
        let bus = Bus::new(af);
        let _m = bus.member(0);
        let c = bus.connect();
        c.client.send_with_flags(b"hello owner", 0).sys().unwrap();
        expect_eq("accepted got it", drain(&c.accepted), vec![b"hello owner".to_vec()])?;
        expect_eq("member did not", drain(&_m.client).len(), 0)
    });
    case!(v, "seqgroup", "an admitted member's message reaches every other admitted member", |af| {
        let bus = Bus::new(af);
        let ms: Vec<Conn> = (0..5).map(|_| bus.member(0)).collect();
        ms[0].client.send_with_flags(b"m", 0).sys().unwrap();
        expect_eq("sender", drain(&ms[0].client).len(), 0)?;
        for m in &ms[1..] {
            expect_eq("member", drain(&m.client), vec![b"m".to_vec()])?;
            expect_eq("accepted side", drain(&m.accepted).len(), 0)?;
        }
        Ok(())
    });
    case!(v, "seqgroup", "LOOPBACK: the member gets its own messages", |af| {
        let bus = Bus::new(af);
        let m = bus.member(LOOP);
        m.client.send_with_flags(b"me", 0).sys().unwrap();
        expect_eq("self", drain(&m.client), vec![b"me".to_vec()])
    });
    case!(v, "seqgroup", "SEND_TO_PEER: the owner's accepted socket gets a copy", |af| {
        let bus = Bus::new(af);
        let m = bus.member(TO_PEER);
        let plain = bus.member(0);
        m.client.send_with_flags(b"up", 0).sys().unwrap();
        plain.client.send_with_flags(b"no", 0).sys().unwrap();
        expect_eq("accepted of m", drain(&m.accepted), vec![b"up".to_vec()])?;
        expect_eq("accepted of plain", drain(&plain.accepted).len(), 0)
    });
    case!(v, "seqgroup", "the owner's sends on an accepted socket stay unicast", |af| {
        let bus = Bus::new(af);
        let a = bus.member(0);
        let b = bus.member(0);
        a.accepted.send_with_flags(b"just a", 0).sys().unwrap();
        expect_eq("a", drain(&a.client), vec![b"just a".to_vec()])?;
        expect_eq("b", drain(&b.client).len(), 0)
    });
    case!(v, "seqgroup", "SO_PEERCRED on the accepted socket names the client", |af| {
        let bus = Bus::new(af);
        let c = bus.connect();
        let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: cred and len are valid for getsockopt.
        let r = unsafe { libc::getsockopt(c.accepted.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len) };
        expect_eq("getsockopt", r, 0)?;
        // SAFETY: plain getters.
        expect_eq("cred", (cred.pid, cred.uid), unsafe { (libc::getpid(), libc::getuid()) })
    });
    case!(v, "seqgroup", "admit on anything but an accepted connection of a group owner -> EINVAL", |af| {
        let bus = Bus::new(af);
        expect_eq("listener", err(admit(&bus.owner, 0)), Some(Errno(libc::EINVAL)))?;
        let c = bus.connect();
        expect_eq("client side", err(admit(&c.client, 0)), Some(Errno(libc::EINVAL)))?;
        // An accepted connection of a plain (non-group) listener.
        let l = sock(af, S);
        let la = fresh("plain");
        l.bind(&la).sys().unwrap();
        l.listen(4).sys().unwrap();
        let cl = sock(af, S);
        cl.connect(&la).sys().unwrap();
        let (acc, _) = l.accept().sys().unwrap();
        expect_eq("plain listener", err(admit(&acc, 0)), Some(Errno(libc::EINVAL)))?;
        expect_eq("dgram", err(admit(&sock(af, libc::SOCK_DGRAM), 0)), Some(Errno(libc::EINVAL)))
    });
    case!(v, "seqgroup", "admit twice -> EALREADY", |af| {
        let bus = Bus::new(af);
        let m = bus.member(0);
        expect_eq("again", err(admit(&m.accepted, 0)), Some(Errno(libc::EALREADY)))
    });
    case!(v, "seqgroup", "admit with unknown flags or a short value -> EINVAL", |af| {
        let bus = Bus::new(af);
        let c = bus.connect();
        expect_eq("flags", err(admit(&c.accepted, 1 << 9)), Some(Errno(libc::EINVAL)))?;
        expect_eq("short", err(setopt(&c.accepted, mcast_unix::SOL_MCAST_UNIX, mcast_unix::MCAST_UNIX_ADMIT_MEMBER, &[0u8; 2])), Some(Errno(libc::EINVAL)))?;
        expect_eq("still admittable", admit(&c.accepted, 0), Ok(()))
    });
    case!(v, "seqgroup", "owner close: members see end of file and POLLHUP", |af| {
        let bus = Bus::new(af);
        let m = bus.member(0);
        let Bus { owner, addr, .. } = bus;
        drop(owner);
        expect_eq("eof", client::recv(&m.client, 16, 0), Ok(Vec::new()))?;
        let ev = sys::poll(&m.client, libc::POLLIN, 0).unwrap();
        ensure!(ev & libc::POLLHUP != 0, "revents {ev:#x}");
        expect_eq("group gone", proc_group(&addr).is_none(), true)
    });
    case!(v, "seqgroup", "a member closing leaves the group", |af| {
        let bus = Bus::new(af);
        let a = bus.member(0);
        let _b = bus.member(0);
        expect_eq("2", proc_group(&bus.addr).map(|g| g[3].clone()), Some("2".into()))?;
        drop(a);
        expect_eq("1", proc_group(&bus.addr).map(|g| g[3].clone()), Some("1".into()))
    });
    case!(v, "seqgroup", "the owner closing an accepted socket ends that membership", |af| {
        let bus = Bus::new(af);
        let a = bus.member(0);
        let b = bus.member(0);
        let Conn { client, accepted } = a;
        drop(accepted);
        expect_eq("1", proc_group(&bus.addr).map(|g| g[3].clone()), Some("1".into()))?;
        expect_eq("eof", client::recv(&client, 16, 0), Ok(Vec::new()))?;
        b.client.send_with_flags(b"x", 0).sys().unwrap();
        expect_eq("nothing", drain(&client).len(), 0)
    });
    case!(v, "seqgroup", "shutdown(SHUT_RD) by a member leaves the group", |af| {
        let bus = Bus::new(af);
        let a = bus.member(0);
        let b = bus.member(0);
        a.client.shutdown(std::net::Shutdown::Read).sys().unwrap();
        expect_eq("1", proc_group(&bus.addr).map(|g| g[3].clone()), Some("1".into()))?;
        b.client.send_with_flags(b"x", 0).sys().unwrap();
        expect_eq("nothing queued", inq(&a.client), 0)
    });
    case!(v, "seqgroup", "POLLOUT of a member reflects the other members' room", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let slow = bus.member(0);
        let _dropper = bus.member(DROP);
        expect_eq("room", sys::poll(&tx.client, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT), Ok(libc::POLLOUT))?;
        let n = fill(&tx.client, None, 1024).map_err(|e| format!("{e:?}"))?;
        ensure!(n > 0);
        expect_eq("full", sys::poll(&tx.client, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT), Ok(0))?;
        drain(&slow.client);
        expect_eq("drained", sys::poll(&tx.client, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT), Ok(libc::POLLOUT))
    });
    case!(v, "seqgroup", "two members sending concurrently: one order at the others", |af| {
        let bus = Bus::new(af);
        // The senders are members too and never read: they drop, so they do
        // not hold each other back.
        let senders: Vec<Conn> = (0..2).map(|_| bus.member(DROP)).collect();
        let readers: Vec<Conn> = (0..3).map(|_| bus.member(0)).collect();
        let per = 1500u32;
        let threads: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(s, c)| {
                std::thread::spawn(move || {
                    for i in 0..per {
                        let mut m = (s as u32).to_ne_bytes().to_vec();
                        m.extend_from_slice(&i.to_ne_bytes());
                        c.client.send_with_flags(&m, 0).sys().expect("send");
                    }
                    c
                })
            })
            .collect();
        let rthreads: Vec<_> = readers
            .into_iter()
            .map(|c| {
                std::thread::spawn(move || {
                    // The whole connection moves here: dropping the accepted
                    // side would end the membership.
                    let c = c;
                    let mut got = Vec::new();
                    while got.len() < 2 * per as usize {
                        got.push(client::recv(&c.client, 16, 0).expect("recv"));
                    }
                    got
                })
            })
            .collect();
        let _keep: Vec<Conn> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let orders: Vec<_> = rthreads.into_iter().map(|t| t.join().unwrap()).collect();
        for o in &orders[1..] {
            if let Some(i) = (0..o.len()).find(|&i| o[i] != orders[0][i]) {
                return Err(format!(
                    "members saw different orders from message {i}: {:?} vs {:?}",
                    &orders[0][i.saturating_sub(1)..(i + 3).min(o.len())],
                    &o[i.saturating_sub(1)..(i + 3).min(o.len())]
                ));
            }
        }
        Ok(())
    });
    case!(v, "seqgroup", "a full blocking member makes a non-blocking member send fail with EAGAIN; nothing delivered", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let _slow = bus.member(0);
        let fast = bus.member(0);
        let tx2 = bus.connect();
        admit(&tx2.accepted, 0).unwrap();
        fill(&tx.client, None, 1024).unwrap();
        drain(&fast.client);
        expect_eq("EAGAIN", err(tx2.client.send_with_flags(b"x", libc::MSG_DONTWAIT).sys()), Some(Errno(libc::EAGAIN)))?;
        expect_eq("fast untouched", drain(&fast.client).len(), 0)
    });
    case!(v, "seqgroup", "members with SO_PASSCRED get the sender's credentials", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let rx = bus.member(0);
        rx.client.set_passcred(true).sys().unwrap();
        tx.client.send_with_flags(b"c", 0).sys().unwrap();
        let msg = recvmsg(&rx.client, 8, libc::MSG_DONTWAIT).map_err(|e| format!("{e:?}"))?;
        let c = msg.creds().ok_or("no SCM_CREDENTIALS")?;
        // SAFETY: plain getter.
        expect_eq("pid", c.pid, unsafe { libc::getpid() })
    });
    case!(v, "seqgroup", "/proc shows the seqpacket group and its members", |af| {
        let bus = Bus::new(af);
        let _m: Vec<Conn> = (0..3).map(|_| bus.member(0)).collect();
        let g = proc_group(&bus.addr).ok_or("group line")?;
        expect_eq("type, members", (g[2].as_str(), g[3].as_str()), ("seqpacket", "3"))?;
        let l = proc_sock(&_m[0].client).ok_or("member line")?;
        expect_eq("role", l[4].as_str(), "member")
    });
    v
}
