//! The bus subcommands: `bus` (the daemon), `call`, `emit`, `monitor`.

use crate::cli::{BusArgs, Call, Emit, Monitor};
use mcast_bus::{Config, Daemon, Limits, Policy};
use mcast_unix::bus::{Bus, BusMessage};
use std::fs::File;
use std::os::fd::AsFd;
use std::time::Duration;
use zbus::message::Type;
use zbus::wire::{ObjectPath, StructureBuilder, Variant};

type Result<T> = std::result::Result<T, String>;

fn family() -> Result<i32> {
    mcast_unix::family().map_err(|e| format!("{}: {e} (is the mcast_unix module loaded?)", mcast_unix::FAMILY_PARAM))
}

/// `mcastctl bus`: runs the daemon until interrupted or for --duration.
pub fn daemon(a: BusArgs) -> Result<()> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let config = Config {
        family: family()?,
        address: a.address.clone(),
        policy: Policy { daemon_uid: uid, allow_uids: a.allow_uids, allow_gids: a.allow_gids },
        limits: Limits { names: a.max_names, matches: a.max_matches, connections: a.max_connections, ..Limits::default() },
        drop_when_full: !a.hold_senders,
    };
    let mut d = Daemon::new(config).map_err(|e| format!("cannot own the bus at {}: {e}", a.address))?;
    mcast_bus::stop_on_signals().map_err(|e| format!("signal handlers: {e}"))?;
    if !a.quiet {
        eprintln!("mcastctl bus: serving {} (Ctrl-C stops and prints the counters)", a.address);
    }
    let deadline = a.duration.map(|s| std::time::Instant::now() + Duration::from_secs(s));
    loop {
        match deadline {
            None => {
                d.run().map_err(|e| format!("bus: {e}"))?;
                break;
            }
            Some(t) => {
                let left = t.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() || mcast_bus::daemon::stopped() {
                    break;
                }
                d.step(left.as_millis().min(200) as i32).map_err(|e| format!("bus: {e}"))?;
            }
        }
    }
    let s = d.stats();
    println!(
        "bus stats: connections accepted {} refused {} now {}; bus calls {}; data messages received by the daemon {}; malformed {}; send failures {}",
        s.accepted, s.refused, s.connections, s.bus_messages, s.data_messages, s.malformed, s.send_failures
    );
    Ok(())
}

/// One ARG of `call`/`emit`, `TYPE:VALUE` (no known prefix: a string).
fn arg(text: &str, files: &mut Vec<File>) -> Result<Variant<'static>> {
    let (ty, value) = match text.split_once(':') {
        Some((t, v)) if matches!(t, "s" | "o" | "b" | "y" | "n" | "q" | "i" | "u" | "x" | "t" | "d" | "h") => (t, v),
        _ => ("s", text),
    };
    let bad = |e: &dyn std::fmt::Display| format!("argument '{text}': {e}");
    Ok(match ty {
        "s" => Variant::from(value.to_owned()),
        "o" => Variant::from(ObjectPath::try_from(value.to_owned()).map_err(|e| bad(&e))?),
        "b" => Variant::from(value.parse::<bool>().map_err(|e| bad(&e))?),
        "y" => Variant::from(value.parse::<u8>().map_err(|e| bad(&e))?),
        "n" => Variant::from(value.parse::<i16>().map_err(|e| bad(&e))?),
        "q" => Variant::from(value.parse::<u16>().map_err(|e| bad(&e))?),
        "i" => Variant::from(value.parse::<i32>().map_err(|e| bad(&e))?),
        "u" => Variant::from(value.parse::<u32>().map_err(|e| bad(&e))?),
        "x" => Variant::from(value.parse::<i64>().map_err(|e| bad(&e))?),
        "t" => Variant::from(value.parse::<u64>().map_err(|e| bad(&e))?),
        "d" => Variant::from(value.parse::<f64>().map_err(|e| bad(&e))?),
        _ => {
            // h:PATH opens the file and passes its descriptor.
            let f = File::open(value).map_err(|e| bad(&e))?;
            let fd = f.as_fd().try_clone_to_owned().map_err(|e| bad(&e))?;
            files.push(f);
            Variant::from(zbus::Fd::from(fd))
        }
    })
}

fn build_body(args: &[String]) -> Result<Option<zbus::wire::Structure<'static>>> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut files = Vec::new();
    let mut b = StructureBuilder::new();
    for a in args {
        b = b.append_field(arg(a, &mut files)?);
    }
    b.build().map(Some).map_err(|e| format!("arguments: {e}"))
}

fn connect(address: &mcast_unix::Addr) -> Result<Bus> {
    Bus::connect_in(family()?, address).map_err(|e| format!("cannot connect to the bus at {address}: {e}"))
}

/// One message as a line.
pub fn describe(m: &BusMessage) -> String {
    let kind = match m.msg_type() {
        Type::MethodCall => "call",
        Type::MethodReturn => "return",
        Type::Error => "error",
        Type::Signal => "signal",
    };
    let mut line = format!("{kind} serial={} sender={}", m.serial(), m.sender().unwrap_or("-"));
    for (k, v) in [("dest", m.destination()), ("path", m.path()), ("interface", m.interface()), ("member", m.member()), ("error", m.error_name())] {
        if let Some(v) = v {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    if let Some(r) = m.reply_serial() {
        line.push_str(&format!(" reply_serial={r}"));
    }
    let sig = m.signature();
    if !sig.is_empty() {
        let body = m.message().body();
        let text = match body.deserialize::<zbus::wire::Structure<'_>>() {
            Ok(s) => s.to_string(),
            Err(_) => match body.deserialize::<Variant<'_>>() {
                Ok(v) => v.to_string(),
                Err(e) => format!("<{e}>"),
            },
        };
        line.push_str(&format!(" sig={sig} body={text}"));
    }
    let fds = m.message().data().fds().len();
    if fds > 0 {
        line.push_str(&format!(" fds={fds}"));
    }
    line
}

/// `mcastctl call`.
pub fn call(c: Call) -> Result<()> {
    let mut bus = connect(&c.bus)?;
    bus.set_timeout(Duration::from_secs(c.timeout));
    let iface = (c.interface != "-").then_some(c.interface.as_str());
    let reply = match build_body(&c.args)? {
        Some(body) => bus.call(&c.destination, &c.path, iface, &c.member, &body),
        None => bus.call(&c.destination, &c.path, iface, &c.member, &()),
    };
    match reply {
        Ok(r) => {
            println!("{}", describe(&r));
            Ok(())
        }
        Err(e) => Err(format!("{} {}.{}: {e}", c.destination, c.interface, c.member)),
    }
}

/// `mcastctl emit`.
pub fn emit(e: Emit) -> Result<()> {
    let bus = connect(&e.bus)?;
    let mut b = zbus::Message::signal(e.path.as_str(), e.interface.as_str(), e.member.as_str()).sender(bus.unique_name());
    if let Some(d) = &e.destination {
        b = b.destination(d.as_str());
    }
    let msg = match build_body(&e.args)? {
        Some(body) => b.build(&body),
        None => b.build(&()),
    }
    .map_err(|err| format!("signal: {err}"))?;
    bus.send_message(&msg).map_err(|err| format!("emit: {err}"))?;
    if !e.quiet {
        println!("{}", describe(&BusMessage::from_message(msg)));
    }
    Ok(())
}

/// `mcastctl monitor`.
pub fn monitor(m: Monitor) -> Result<()> {
    let mut bus = connect(&m.bus)?;
    bus.become_monitor().map_err(|e| format!("BecomeMonitor: {e}"))?;
    let rules: Vec<mcast_unix::bus::Rule> =
        m.rules.iter().map(|r| mcast_unix::bus::Rule::parse(r).map_err(|e| e.to_string())).collect::<Result<_>>()?;
    eprintln!("mcastctl monitor: watching {} as {}", m.bus, bus.unique_name());
    let mut seen = 0u64;
    while m.count.is_none_or(|n| seen < n) {
        let msg = bus.recv().map_err(|e| format!("monitor: {e}"))?;
        if !rules.is_empty() && !rules.iter().any(|r| r.matches(&msg)) {
            continue;
        }
        seen += 1;
        println!("{}", describe(&msg));
    }
    Ok(())
}
