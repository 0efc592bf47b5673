//! Filters at fan-out: each receiver's own socket filter and the owner's
//! peer filter (contract: "Filters").

use crate::{case, ensure};
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use crate::harness::{expect_eq, Case, CaseResult};
use crate::mcast::*;
use crate::seqgroups::Bus;
use crate::sys::{self, IntoSys, Errno};
use mcast_unix::Addr;
use mcast_unix::filter::{ByteOrder, FilterBuilder};
use mcast_unix::MCAST_UNIX_DROP_WHEN_FULL as DROP;

const D: i32 = libc::SOCK_DGRAM;

fn member(af: i32, a: &Addr, flags: u32) -> Socket {
    let m = sock(af, D);
    join(&m, a, flags).expect("join");
    m
}

/// A message whose first 4 bytes are a native-endian topic hash.
fn topic_msg(topic: &str, body: &[u8]) -> Vec<u8> {
    let mut m = mcast_unix::filter::topic_hash(topic).to_ne_bytes().to_vec();
    m.extend_from_slice(body);
    m
}

/// Loads a socket-filter eBPF program returning `ret` (SO_ATTACH_BPF).
fn bpf_prog_returning(ret: i32) -> Result<std::os::fd::OwnedFd, String> {
    // r0 = ret; exit
    let insns: [u64; 2] = [
        0xb7u64 | ((ret as u32 as u64) << 32), // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
        0x95u64,                                // BPF_JMP | BPF_EXIT
    ];
    let license = b"GPL\0";
    #[repr(C)]
    struct Load {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        rest: [u8; 64],
    }
    let attr = Load {
        prog_type: 1, // BPF_PROG_TYPE_SOCKET_FILTER
        insn_cnt: 2,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        rest: [0; 64],
    };
    // SAFETY: bpf(BPF_PROG_LOAD) with a valid attribute block.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 5, &attr as *const Load, std::mem::size_of::<Load>()) };
    if fd < 0 {
        return Err(format!("BPF_PROG_LOAD: {}", std::io::Error::last_os_error()));
    }
    Ok(sys::owned(fd))
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "filter", "a member's filter that rejects: no copy, SIOCINQ 0, no POLLIN", |af| {
        let (_o, a) = dgram_group(af);
        let picky = member(af, &a, 0);
        let other = member(af, &a, 0);
        attach_filter(&picky, &ret_prog(0)).unwrap();
        sock(af, D).send_to(b"hello", &a).sys().unwrap();
        expect_eq("SIOCINQ", inq(&picky), 0)?;
        expect_eq("POLLIN", sys::poll(&picky, libc::POLLIN, 0), Ok(0))?;
        expect_eq("rmem", proc_sock(&picky).map(|l| l[7].clone()), Some("0".into()))?;
        expect_eq("other", drain(&other).len(), 1)
    });
    case!(v, "filter", "a filter returning k truncates that member's copy only", |af| {
        let (_o, a) = dgram_group(af);
        let short = member(af, &a, 0);
        let whole = member(af, &a, 0);
        attach_filter(&short, &ret_prog(3)).unwrap();
        sock(af, D).send_to(b"0123456789", &a).sys().unwrap();
        let m = recvmsg(&short, 64, libc::MSG_DONTWAIT | libc::MSG_TRUNC).map_err(|e| format!("{e:?}"))?;
        expect_eq("short", (m.len, m.data.clone()), (3, b"012".to_vec()))?;
        expect_eq("whole", drain(&whole), vec![b"0123456789".to_vec()])
    });
    case!(v, "filter", "a rejecting member does not hold the sender back and is not a drop", |af| {
        let (_o, a) = dgram_group(af);
        let picky = member(af, &a, 0);
        let tx = sock(af, D);
        // Fill picky first, then make it reject.
        fill(&tx, Some(&a), 1024).unwrap();
        attach_filter(&picky, &ret_prog(0)).unwrap();
        expect_eq("send", tx.send_to_with_flags(b"x", &a, libc::MSG_DONTWAIT).sys(), Ok(1))?;
        expect_eq("drops", proc_sock(&picky).map(|l| l[8].clone()), Some("0".into()))?;
        expect_eq("group drops", proc_group(&a).map(|g| g[5].clone()), Some("0".into()))
    });
    case!(v, "filter", "all-or-nothing among the members that accept", |af| {
        let (_o, a) = dgram_group(af);
        let slow = member(af, &a, 0);
        let picky = member(af, &a, 0);
        let fast = member(af, &a, 0);
        attach_filter(&picky, &ret_prog(0)).unwrap();
        let tx = sock(af, D);
        let n = fill(&tx, Some(&a), 1024).unwrap();
        expect_eq("fast got as many", drain(&fast).len(), n)?;
        expect_eq("EAGAIN", err(tx.send_to_with_flags(b"x", &a, libc::MSG_DONTWAIT).sys()), Some(Errno(libc::EAGAIN)))?;
        expect_eq("fast nothing", drain(&fast).len(), 0)?;
        drain(&slow);
        Ok(())
    });
    case!(v, "filter", "SO_DETACH_FILTER restores delivery", |af| {
        let (_o, a) = dgram_group(af);
        let m = member(af, &a, 0);
        attach_filter(&m, &ret_prog(0)).unwrap();
        sock(af, D).send_to(b"1", &a).sys().unwrap();
        setopt(&m, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0i32.to_ne_bytes()).unwrap();
        sock(af, D).send_to(b"2", &a).sys().unwrap();
        expect_eq("after detach", drain(&m), vec![b"2".to_vec()])
    });
    case!(v, "filter", "SO_LOCK_FILTER: the filter can no longer be changed", |af| {
        let m = sock(af, D);
        attach_filter(&m, &ret_prog(0)).unwrap();
        sys::setsockopt_int(&m, libc::SOL_SOCKET, libc::SO_LOCK_FILTER, 1).unwrap();
        expect_eq("detach", err(setopt(&m, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0i32.to_ne_bytes())), Some(Errno(libc::EPERM)))?;
        expect_eq("replace", err(attach_filter(&m, &ret_prog(100))), Some(Errno(libc::EPERM)))
    });
    case!(v, "filter", "SO_ATTACH_BPF socket-filter programs run at fan-out", |af| {
        let (_o, a) = dgram_group(af);
        let m = member(af, &a, 0);
        let other = member(af, &a, 0);
        let prog = bpf_prog_returning(0)?;
        sys::setsockopt_int(&m, libc::SOL_SOCKET, libc::SO_ATTACH_BPF, prog.as_raw_fd()).map_err(|e| format!("attach: {e:?}"))?;
        sock(af, D).send_to(b"x", &a).sys().unwrap();
        expect_eq("rejected", inq(&m), 0)?;
        expect_eq("other", drain(&other).len(), 1)?;
        let keep2 = bpf_prog_returning(2)?;
        sys::setsockopt_int(&m, libc::SOL_SOCKET, libc::SO_ATTACH_BPF, keep2.as_raw_fd()).map_err(|e| format!("attach: {e:?}"))?;
        sock(af, D).send_to(b"xyz", &a).sys().unwrap();
        expect_eq("trimmed", drain(&m), vec![b"xy".to_vec()])
    });
    case!(v, "filter", "unicast: the receiver's filter drops silently, as AF_UNIX", |af| {
        let rx = sock(af, D);
        let ra = fresh("urx");
        rx.bind(&ra).sys().unwrap();
        attach_filter(&rx, &ret_prog(0)).unwrap();
        expect_eq("send", sock(af, D).send_to(b"x", &ra).sys(), Ok(1))?;
        expect_eq("nothing", inq(&rx), 0)
    });
    case!(v, "filter", "topic filters from the client builder select by header hash", |af| {
        let (_o, a) = dgram_group(af);
        let news = member(af, &a, 0);
        let both = member(af, &a, 0);
        let attach = |fd: &Socket, topics: &[&str]| -> CaseResult {
            let prog = FilterBuilder::new().topic_in(0, ByteOrder::Native, topics.iter().copied()).build().map_err(|e| e.to_string())?;
            fd.attach_filter(&prog).sys().map_err(|e| format!("{e:?}"))
        };
        attach(&news, &["news"])?;
        attach(&both, &["news", "weather"])?;
        let tx = sock(af, D);
        for (t, b) in [("news", "n1"), ("weather", "w1"), ("sports", "s1"), ("news", "n2")] {
            tx.send_to(&topic_msg(t, b.as_bytes()), &a).sys().unwrap();
        }
        let body = |v: Vec<Vec<u8>>| v.into_iter().map(|m| String::from_utf8_lossy(&m[4..]).into_owned()).collect::<Vec<_>>();
        expect_eq("news", body(drain(&news)), vec!["n1".to_string(), "n2".into()])?;
        expect_eq("both", body(drain(&both)), vec!["n1".to_string(), "w1".into(), "n2".into()])
    });
    case!(v, "filter", "a DROP_WHEN_FULL member whose filter rejects is not counted", |af| {
        let (_o, a) = dgram_group(af);
        let d = member(af, &a, DROP);
        attach_filter(&d, &ret_prog(0)).unwrap();
        let tx = sock(af, D);
        for _ in 0..300 {
            tx.send_to_with_flags(&[0u8; 1024], &a, libc::MSG_DONTWAIT).sys().unwrap();
        }
        expect_eq("drops", proc_sock(&d).map(|l| l[8].clone()), Some("0".into()))
    });

    // The owner's peer filter (seqpacket groups).
    case!(v, "filter", "peer filter: the member receives only what it accepts", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let limited = bus.connect();
        set_peer_filter(&limited.accepted, Some(&ret_prog(0))).unwrap();
        admit(&limited.accepted, 0).unwrap();
        let free = bus.member(0);
        tx.client.send_with_flags(b"x", 0).sys().unwrap();
        expect_eq("limited", inq(&limited.client), 0)?;
        expect_eq("free", drain(&free.client).len(), 1)
    });
    case!(v, "filter", "peer filter set after admission takes effect", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let m = bus.member(0);
        tx.client.send_with_flags(b"1", 0).sys().unwrap();
        set_peer_filter(&m.accepted, Some(&ret_prog(0))).unwrap();
        tx.client.send_with_flags(b"2", 0).sys().unwrap();
        expect_eq("only before", drain(&m.client), vec![b"1".to_vec()])
    });
    case!(v, "filter", "peer filter detached with optlen 0", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let m = bus.member(0);
        set_peer_filter(&m.accepted, Some(&ret_prog(0))).unwrap();
        tx.client.send_with_flags(b"1", 0).sys().unwrap();
        set_peer_filter(&m.accepted, None).unwrap();
        tx.client.send_with_flags(b"2", 0).sys().unwrap();
        expect_eq("after detach", drain(&m.client), vec![b"2".to_vec()])
    });
    case!(v, "filter", "peer filter truncates the member's copy", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let m = bus.member(0);
        set_peer_filter(&m.accepted, Some(&ret_prog(2))).unwrap();
        tx.client.send_with_flags(b"abcdef", 0).sys().unwrap();
        expect_eq("trimmed", drain(&m.client), vec![b"ab".to_vec()])
    });
    case!(v, "filter", "both filters must accept", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let a = bus.member(0);
        let b = bus.member(0);
        // a: peer filter accepts, own filter rejects; b: the other way round.
        set_peer_filter(&a.accepted, Some(&ret_prog(0xffff))).unwrap();
        attach_filter(&a.client, &ret_prog(0)).unwrap();
        set_peer_filter(&b.accepted, Some(&ret_prog(0))).unwrap();
        attach_filter(&b.client, &ret_prog(0xffff)).unwrap();
        tx.client.send_with_flags(b"x", 0).sys().unwrap();
        expect_eq("a", inq(&a.client), 0)?;
        expect_eq("b", inq(&b.client), 0)
    });
    case!(v, "filter", "peer filter on any other socket -> EPERM (the member cannot touch it)", |af| {
        let bus = Bus::new(af);
        let m = bus.member(0);
        expect_eq("member", err(set_peer_filter(&m.client, Some(&ret_prog(0)))), Some(Errno(libc::EPERM)))?;
        expect_eq("member detach", err(set_peer_filter(&m.client, None)), Some(Errno(libc::EPERM)))?;
        expect_eq("listener", err(set_peer_filter(&bus.owner, Some(&ret_prog(0)))), Some(Errno(libc::EPERM)))?;
        expect_eq("dgram", err(set_peer_filter(&sock(af, D), Some(&ret_prog(0)))), Some(Errno(libc::EPERM)))
    });
    case!(v, "filter", "the member's SO_DETACH_FILTER does not remove the peer filter", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(0);
        let m = bus.member(0);
        set_peer_filter(&m.accepted, Some(&ret_prog(0))).unwrap();
        let _ = setopt(&m.client, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0i32.to_ne_bytes());
        tx.client.send_with_flags(b"x", 0).sys().unwrap();
        expect_eq("still filtered", inq(&m.client), 0)
    });
    case!(v, "filter", "the member cannot read the peer filter", |af| {
        let bus = Bus::new(af);
        let m = bus.member(0);
        set_peer_filter(&m.accepted, Some(&ret_prog(0))).unwrap();
        // SO_GET_FILTER reports the socket's own filter: none.
        let mut buf = [0u8; 64];
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: buf and len are valid for getsockopt.
        let r = unsafe { libc::getsockopt(m.client.as_raw_fd(), libc::SOL_SOCKET, libc::SO_GET_FILTER, buf.as_mut_ptr().cast(), &mut len) };
        expect_eq("SO_GET_FILTER length", (r, len), (0, 0))?;
        // SAFETY: as above.
        let r2 = unsafe {
            libc::getsockopt(m.client.as_raw_fd(), mcast_unix::SOL_MCAST_UNIX, mcast_unix::MCAST_UNIX_PEER_FILTER, buf.as_mut_ptr().cast(), &mut len)
        };
        ensure!(r2 < 0, "SOL_MCAST_UNIX getsockopt succeeded");
        expect_eq("errno", std::io::Error::last_os_error().raw_os_error(), Some(libc::ENOPROTOOPT))
    });
    case!(v, "filter", "malformed peer filters -> EINVAL", |af| {
        let bus = Bus::new(af);
        let c = bus.connect();
        let jump_out = vec![libc::sock_filter { code: (libc::BPF_JMP | libc::BPF_JA) as u16, jt: 0, jf: 0, k: 5 }];
        expect_eq("jump out", err(set_peer_filter(&c.accepted, Some(&jump_out))), Some(Errno(libc::EINVAL)))?;
        expect_eq("empty", err(set_peer_filter(&c.accepted, Some(&[]))), Some(Errno(libc::EINVAL)))?;
        expect_eq("short optlen", err(setopt(&c.accepted, mcast_unix::SOL_MCAST_UNIX, mcast_unix::MCAST_UNIX_PEER_FILTER, &[1u8; 3])), Some(Errno(libc::EINVAL)))
    });
    case!(v, "filter", "peer filter with a bad instruction pointer -> EFAULT", |af| {
        let bus = Bus::new(af);
        let c = bus.connect();
        let fp = libc::sock_fprog { len: 1, filter: 8usize as *mut libc::sock_filter };
        // SAFETY: viewing the struct's bytes; the kernel checks the pointer.
        let bytes = unsafe { std::slice::from_raw_parts((&fp as *const libc::sock_fprog).cast::<u8>(), std::mem::size_of_val(&fp)) };
        expect_eq("bad pointer", err(setopt(&c.accepted, mcast_unix::SOL_MCAST_UNIX, mcast_unix::MCAST_UNIX_PEER_FILTER, bytes)), Some(Errno(libc::EFAULT)))
    });
    case!(v, "filter", "the builder's AND of two header fields, checked in the kernel", |af| {
        let (_o, a) = dgram_group(af);
        let m = member(af, &a, 0);
        // Field 0: topic hash; field 4: a 16-bit destination id (native order).
        let prog = FilterBuilder::new()
            .topic_in(0, ByteOrder::Native, ["signals"])
            .u16_in(4, ByteOrder::Native, [7u16, 9])
            .build()
            .map_err(|e| e.to_string())?;
        m.attach_filter(&prog).sys().map_err(|e| format!("{e:?}"))?;
        let tx = sock(af, D);
        let msg = |topic: &str, dest: u16| {
            let mut v = mcast_unix::filter::topic_hash(topic).to_ne_bytes().to_vec();
            v.extend_from_slice(&dest.to_ne_bytes());
            v
        };
        for (t, d) in [("signals", 7), ("signals", 8), ("other", 7), ("signals", 9)] {
            tx.send_to(&msg(t, d), &a).sys().unwrap();
        }
        let got: Vec<u16> = drain(&m).iter().map(|v| u16::from_ne_bytes([v[4], v[5]])).collect();
        expect_eq("accepted", got, vec![7, 9])
    });
    case!(v, "filter", "a message shorter than the filtered field is dropped", |af| {
        let (_o, a) = dgram_group(af);
        let m = member(af, &a, 0);
        let prog = FilterBuilder::new().u32_in(8, ByteOrder::Native, [1]).build().map_err(|e| e.to_string())?;
        m.attach_filter(&prog).sys().unwrap();
        sock(af, D).send_to(&[0u8; 6], &a).sys().unwrap();
        expect_eq("dropped", inq(&m), 0)
    });
    case!(v, "filter", "unicast seqpacket: the receiver's filter truncates", |af| {
        let bus = Bus::new(af);
        let c = bus.connect();
        attach_filter(&c.accepted, &ret_prog(4)).unwrap();
        c.client.send_with_flags(b"0123456789", 0).sys().unwrap();
        expect_eq("trimmed", drain(&c.accepted), vec![b"0123".to_vec()])
    });
    case!(v, "filter", "the SEND_TO_PEER copy is not subject to the member's peer filter", |af| {
        let bus = Bus::new(af);
        let m = bus.connect();
        set_peer_filter(&m.accepted, Some(&ret_prog(0))).unwrap();
        admit(&m.accepted, mcast_unix::MCAST_UNIX_SEND_TO_PEER).unwrap();
        m.client.send_with_flags(b"report", 0).sys().unwrap();
        expect_eq("owner copy", drain(&m.accepted), vec![b"report".to_vec()])
    });
    case!(v, "filter", "filters and concurrent senders: one order among the accepting members", |af| {
        let (_o, a) = dgram_group(af);
        let keep: Vec<Socket> = (0..3).map(|_| member(af, &a, 0)).collect();
        let _rejecting: Vec<Socket> = (0..3)
            .map(|_| {
                let r = member(af, &a, 0);
                attach_filter(&r, &ret_prog(0)).expect("filter");
                r
            })
            .collect();
        for k in &keep {
            k.set_recv_buffer_size(1 << 20).sys().unwrap();
        }
        // Few enough that the members' queues hold everything unread.
        let per = 150u32;
        let senders: Vec<_> = (0..2u32)
            .map(|s| {
                let a = a.clone();
                std::thread::spawn(move || {
                    let tx = sock(af, D);
                    for i in 0..per {
                        tx.send_to(&[s.to_ne_bytes(), i.to_ne_bytes()].concat(), &a).sys().expect("send");
                    }
                })
            })
            .collect();
        for t in senders {
            t.join().map_err(|_| "sender")?;
        }
        let orders: Vec<Vec<Vec<u8>>> = keep.iter().map(drain).collect();
        expect_eq("count", orders[0].len(), 2 * per as usize)?;
        for o in &orders[1..] {
            ensure!(o == &orders[0], "different orders");
        }
        Ok(())
    });
    case!(v, "filter", "closing an accepted socket with a peer filter, mid-traffic", |af| {
        let bus = Bus::new(af);
        let tx = bus.member(mcast_unix::MCAST_UNIX_DROP_WHEN_FULL);
        let m = bus.connect();
        set_peer_filter(&m.accepted, Some(&ret_prog(1))).unwrap();
        admit(&m.accepted, 0).unwrap();
        let sender = std::thread::spawn(move || {
            for _ in 0..300 {
                if tx.client.send_with_flags(b"abc", libc::MSG_DONTWAIT).sys().is_err() {
                    std::thread::yield_now();
                }
            }
            tx
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        let crate::seqgroups::Conn { client, accepted } = m;
        drop(accepted);
        let _tx = sender.join().map_err(|_| "sender")?;
        let got = drain(&client);
        ensure!(got.iter().all(|d| d == b"a"), "untrimmed copy");
        Ok(())
    });
    v
}
