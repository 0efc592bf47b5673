//! A tiny message bus on a datagram group: one owner, three subscribers
//! with different topic filters, one publisher.
//!
//! Every message starts with a header: the topic's hash (`u32`, native byte
//! order) and a sequence number (`u32`); the text follows. The subscribers'
//! socket filters look only at the topic field, so the kernel drops what a
//! subscriber did not ask for before it is queued.
//!
//! Needs the module loaded: `cargo run --example bus [-- FAMILY]` (the
//! family defaults to the one the module reports).

use mcast_unix::{topic_hash, Addr, ByteOrder, FilterBuilder, Program, Socket};
use std::io;

/// Offset of the topic hash in the header.
const TOPIC: u32 = 0;
/// Header length: topic hash, sequence number.
const HEADER: usize = 8;

fn message(topic: &str, seq: u32, text: &str) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER + text.len());
    msg.extend_from_slice(&topic_hash(topic).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(text.as_bytes());
    msg
}

struct Subscriber {
    name: &'static str,
    sock: Socket,
}

fn subscribe(family: i32, group: &Addr, name: &'static str, filter: &Program) -> io::Result<Subscriber> {
    let sock = Socket::dgram_in(family)?;
    sock.attach_filter(filter)?;
    sock.set_nonblocking(true)?;
    sock.join_group(group, 0)?;
    Ok(Subscriber { name, sock })
}

fn main() -> io::Result<()> {
    let family = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "FAMILY: a number"))?,
        None => mcast_unix::family().map_err(|e| io::Error::new(e.kind(), format!("is the module loaded? {e}")))?,
    };
    let group = Addr::abstract_(format!("mcast-unix-bus-demo-{}", std::process::id()))?;

    let owner = Socket::dgram_in(family)?;
    owner.create_group(&group)?;

    let topics = |names: &[&str]| FilterBuilder::new().topic_in(TOPIC, ByteOrder::Native, names);
    let subscribers = [
        subscribe(family, &group, "weather", &topics(&["weather"]).build()?)?,
        // Headlines only: the first 16 bytes of the text.
        subscribe(family, &group, "news+sports", &topics(&["news", "sports"]).truncate(HEADER as u32 + 16).build()?)?,
        subscribe(family, &group, "everything", &Program::accept_all())?,
    ];

    let publisher = Socket::dgram_in(family)?;
    publisher.bind(&Addr::unnamed())?;
    let posts = [
        ("weather", "sunny, 21 degrees"),
        ("news", "module merged after long review"),
        ("sports", "local team wins again"),
        ("traffic", "the ring road is closed"),
        ("weather", "rain by evening"),
    ];
    for (seq, (topic, text)) in (1..).zip(posts) {
        publisher.send_to(&message(topic, seq, text), &group)?;
    }

    let mut buf = [0u8; 256];
    for sub in &subscribers {
        println!("{}:", sub.name);
        loop {
            let (n, from) = match sub.sock.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            match buf[..n].split_first_chunk::<HEADER>() {
                Some((header, text)) => {
                    let seq = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
                    println!("  #{seq} from {from}: {}", String::from_utf8_lossy(text));
                }
                None => println!("  {n} bytes from {from}: too short for a header"),
            }
        }
    }
    Ok(())
}
