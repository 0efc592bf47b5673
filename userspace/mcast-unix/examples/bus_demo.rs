//! The bus at work, at a glance (`make demo` runs it in the VM).
//!
//! Needs a bus daemon serving ADDRESS (`mcastctl bus @demo-bus &`), then
//! `bus-demo [--counts] [ADDRESS]` (default `@bus`). Nine clients connect,
//! each served by its own thread:
//!
//! - `publisher` (owns `org.example.Publisher`) and `station` (owns
//!   `org.example.Station`) emit signals on `org.example.Weather` and
//!   `org.example.Stocks`, one of them carrying a memfd (`UNIX_FD`);
//! - five subscribers with different match rules: one per interface, one
//!   for one member of an interface, one for a path, one for a sender;
//! - `calculator` owns `org.example.Calculator` and serves `Add`, which
//!   `caller` calls.
//!
//! Each thread waits in `poll(2)` on its bus socket and counts the waits
//! that returned with something to read: its wake-ups. What a client
//! should have received is worked out here from the list of signals and
//! the rules, independently of the bus; the table compares the two, and
//! the daemon's own counters (`GetStats`) tell how often it read a record
//! that was not a call to the bus. The program exits 1 if any client got
//! other than what it asked for, was woken more often than it received,
//! or the daemon read data. `--counts` prints the counts as `key=value`
//! lines instead of the table (for the in-VM test that runs this program).

use mcast_unix::bus::{Bus, BusMessage, RequestNameFlags};
use mcast_unix::Addr;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use zbus::message::Type;

type Result<T> = std::result::Result<T, String>;

const WEATHER: &str = "org.example.Weather";
const STOCKS: &str = "org.example.Stocks";
const CALCULATOR: &str = "org.example.Calculator";
const PARIS: &str = "/org/example/Weather/Paris";
const OSLO: &str = "/org/example/Weather/Oslo";
const MARKET: &str = "/org/example/Stocks";
/// What the forecast memfd holds.
const FORECAST: &str = "Paris tomorrow: sunny, 24 C";

/// The columns of the table: what a client received, by kind.
const COLUMNS: [&str; 4] = ["Weather", "Stocks", "calls", "replies"];

/// The column of a received message (`None`: none of the table's).
fn column(m: &BusMessage) -> Option<usize> {
    match m.msg_type() {
        Type::Signal => match m.interface() {
            Some(WEATHER) => Some(0),
            Some(STOCKS) => Some(1),
            _ => None,
        },
        Type::MethodCall => Some(2),
        Type::MethodReturn => Some(3),
        Type::Error => None,
    }
}

/// A signal of the scenario.
struct Signal {
    /// Index of the emitting client in [`clients`].
    from: usize,
    path: &'static str,
    interface: &'static str,
    member: &'static str,
    body: Body,
}

enum Body {
    Temperature(f64),
    Wind(u32),
    Price(&'static str, f64),
    Halted(&'static str),
    /// A memfd holding [`FORECAST`].
    Forecast,
}

/// A match rule, as fields (to work out what it should get) and as text
/// (what the bus is told).
#[derive(Clone, Copy, Default)]
struct Match {
    sender: Option<&'static str>,
    interface: Option<&'static str>,
    member: Option<&'static str>,
    path: Option<&'static str>,
}

impl Match {
    fn text(&self) -> String {
        let mut t = String::from("type='signal'");
        for (k, v) in [("sender", self.sender), ("interface", self.interface), ("member", self.member), ("path", self.path)] {
            if let Some(v) = v {
                t.push_str(&format!(",{k}='{v}'"));
            }
        }
        t
    }

    fn wants(&self, s: &Signal, sender: &str) -> bool {
        self.sender.is_none_or(|x| x == sender)
            && self.interface.is_none_or(|x| x == s.interface)
            && self.member.is_none_or(|x| x == s.member)
            && self.path.is_none_or(|x| x == s.path)
    }
}

/// A client of the scenario.
struct Client {
    name: &'static str,
    /// A well-known name it owns.
    owns: Option<&'static str>,
    rule: Option<Match>,
    /// What it does, for the table when it has no rule.
    role: &'static str,
}

const PUBLISHER: usize = 0;
const STATION: usize = 1;
const CALC: usize = 7;
const CALLER: usize = 8;

fn clients() -> Vec<Client> {
    let sub = |name, rule| Client { name, owns: None, rule: Some(rule), role: "" };
    vec![
        Client { name: "publisher", owns: Some("org.example.Publisher"), rule: None, role: "emits 7 signals" },
        Client { name: "station", owns: Some("org.example.Station"), rule: None, role: "emits 2 signals" },
        sub("weather", Match { interface: Some(WEATHER), ..Match::default() }),
        sub("stocks", Match { interface: Some(STOCKS), ..Match::default() }),
        sub("prices", Match { interface: Some(STOCKS), member: Some("Price"), ..Match::default() }),
        sub("paris", Match { path: Some(PARIS), ..Match::default() }),
        sub("from-publisher", Match { sender: Some("org.example.Publisher"), ..Match::default() }),
        Client { name: "calculator", owns: Some(CALCULATOR), rule: None, role: "serves Add(ii) -> i" },
        Client { name: "caller", owns: None, rule: None, role: "calls Add(19, 23)" },
    ]
}

fn signals() -> Vec<Signal> {
    let s = |from, path, interface, member, body| Signal { from, path, interface, member, body };
    vec![
        s(PUBLISHER, PARIS, WEATHER, "Temperature", Body::Temperature(21.5)),
        s(PUBLISHER, OSLO, WEATHER, "Temperature", Body::Temperature(-3.0)),
        s(PUBLISHER, MARKET, STOCKS, "Price", Body::Price("ACME", 101.25)),
        s(PUBLISHER, OSLO, WEATHER, "Wind", Body::Wind(12)),
        s(PUBLISHER, MARKET, STOCKS, "Price", Body::Price("INITECH", 42.0)),
        s(PUBLISHER, MARKET, STOCKS, "Halted", Body::Halted("INITECH")),
        s(STATION, PARIS, WEATHER, "Temperature", Body::Temperature(22.0)),
        s(PUBLISHER, PARIS, WEATHER, "Forecast", Body::Forecast),
        s(STATION, MARKET, STOCKS, "Price", Body::Price("ACME", 101.5)),
    ]
}

/// What a client's thread is told to do (one byte on its command pipe;
/// end of file: stop).
const CALL_ADD: u8 = 255;

/// What a client's thread reports to the main thread.
enum Event {
    /// A command is done.
    Done(Result<()>),
    /// The caller got the reply of Add.
    Sum(i32, String),
}

/// A client's counts, at the end.
#[derive(Default)]
struct Tally {
    got: [u64; COLUMNS.len()],
    /// Accepted messages outside the columns.
    other: u64,
    woken: u64,
    /// Dropped by the library's checks or by the kernel (queue full).
    dropped: u64,
    /// The forecast, as read through the received descriptor.
    forecast: Option<String>,
}

fn emit(bus: &Bus, s: &Signal) -> mcast_unix::bus::Result<()> {
    match s.body {
        Body::Temperature(t) => bus.emit(s.path, s.interface, s.member, &(t,)),
        Body::Wind(w) => bus.emit(s.path, s.interface, s.member, &(w,)),
        Body::Price(sym, p) => bus.emit(s.path, s.interface, s.member, &(sym, p)),
        Body::Halted(sym) => bus.emit(s.path, s.interface, s.member, &(sym,)),
        Body::Forecast => {
            let fd = memfd(FORECAST)?;
            bus.emit(s.path, s.interface, s.member, &(zbus::Fd::from(fd.as_fd()),))
        }
    }
}

/// A memfd holding `text`.
fn memfd(text: &str) -> std::io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name; the result is checked.
    let fd = unsafe { libc::memfd_create(c"forecast".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut f = File::from(fd);
    f.write_all(text.as_bytes())?;
    Ok(f.into())
}

/// Waits until the bus socket or the command pipe is readable: (bus, command).
fn wait(bus: &Bus, cmd: &File) -> Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd { fd: bus.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: cmd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n >= 0 {
            let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
            return Ok((ready(&fds[0]), ready(&fds[1])));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("poll: {e}"));
        }
    }
}

/// A client's thread: it waits, counts its wake-ups, takes what arrived,
/// serves calls and runs the main thread's commands, until its command
/// pipe closes.
fn serve(me: usize, mut bus: Bus, mut cmd: File, events: mpsc::Sender<Event>) -> Result<Tally> {
    let script = signals();
    let mut t = Tally::default();
    let mut add_serial = None;
    loop {
        let (data, command) = wait(&bus, &cmd)?;
        if data {
            t.woken += 1;
            while let Some(m) = bus.recv_timeout(Some(Duration::ZERO)).map_err(|e| e.to_string())? {
                match column(&m) {
                    Some(c) => t.got[c] += 1,
                    None => t.other += 1,
                }
                if m.signature() == "h" {
                    let fds = m.fds().map_err(|e| e.to_string())?;
                    let fd = fds.into_iter().next().ok_or("a forecast without a descriptor")?;
                    let mut text = vec![0; 256];
                    let n = File::from(fd).read_at(&mut text, 0).map_err(|e| format!("reading the memfd: {e}"))?;
                    t.forecast = Some(String::from_utf8_lossy(&text[..n]).into_owned());
                }
                if m.msg_type() == Type::MethodCall && m.member() == Some("Add") {
                    let (a, b): (i32, i32) = m.body().map_err(|e| e.to_string())?;
                    bus.reply(&m, &(a + b,)).map_err(|e| e.to_string())?;
                }
                if m.msg_type() == Type::MethodReturn && add_serial.is_some() && m.reply_serial() == add_serial {
                    let (sum,): (i32,) = m.body().map_err(|e| e.to_string())?;
                    let _ = events.send(Event::Sum(sum, m.sender().unwrap_or("?").to_owned()));
                }
            }
        }
        if command {
            let mut byte = [0u8];
            if cmd.read(&mut byte).map_err(|e| e.to_string())? == 0 {
                break;
            }
            let r = if byte[0] == CALL_ADD {
                let msg = zbus::Message::method_call("/org/example/Calculator", "Add")
                    .destination(CALCULATOR)
                    .interface(CALCULATOR)
                    .sender(bus.unique_name())
                    .build(&(19i32, 23i32))
                    .map_err(|e| e.to_string())?;
                bus.send_message(&msg).map(|serial| add_serial = Some(serial)).map_err(|e| e.to_string())
            } else {
                let s = script.get(usize::from(byte[0])).ok_or("no such signal")?;
                debug_assert_eq!(s.from, me);
                emit(&bus, s).map_err(|e| e.to_string())
            };
            let _ = events.send(Event::Done(r));
        }
    }
    let st = bus.stats();
    t.dropped = st.malformed + st.forged + st.collisions + st.kernel_drops;
    Ok(t)
}

fn address(arg: &str) -> Result<Addr> {
    let r = match arg.strip_prefix('@') {
        Some(name) => Addr::abstract_(name),
        None => Addr::path(arg),
    };
    r.map_err(|e| format!("address {arg}: {e}"))
}

/// The daemon's counters (`org.freedesktop.DBus.Debug.Stats.GetStats`).
fn daemon_stats(bus: &mut Bus) -> Result<HashMap<String, u64>> {
    let reply = bus
        .call("org.freedesktop.DBus", "/org/freedesktop/DBus", Some("org.freedesktop.DBus.Debug.Stats"), "GetStats", &())
        .map_err(|e| format!("GetStats: {e}"))?;
    let (stats,): (HashMap<String, zbus::OwnedVariant>,) = reply.body().map_err(|e| format!("GetStats: {e}"))?;
    Ok(stats.into_iter().filter_map(|(k, v)| u64::try_from(&*v).ok().map(|n| (k, n))).collect())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bus-demo: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let mut counts_only = false;
    let mut at = String::from("@bus");
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--counts" => counts_only = true,
            "-h" | "--help" => {
                println!("usage: bus-demo [--counts] [ADDRESS]   (a bus daemon must serve ADDRESS, default @bus)");
                return Ok(());
            }
            _ => at = a,
        }
    }
    let addr = address(&at)?;
    let cast = clients();
    let script = signals();

    // Set up: connect, subscribe, take names; what that brings (the
    // daemon's NameAcquired signals) is taken before counting starts.
    let mut buses = Vec::new();
    for c in &cast {
        let mut bus = Bus::connect(&addr).map_err(|e| format!("{}: connect to {at}: {e}", c.name))?;
        if let Some(r) = c.rule {
            bus.add_match(&r.text()).map_err(|e| format!("{}: AddMatch: {e}", c.name))?;
        }
        if let Some(n) = c.owns {
            bus.request_name(n, RequestNameFlags::DO_NOT_QUEUE).map_err(|e| format!("{}: RequestName {n}: {e}", c.name))?;
            // The daemon follows its reply with NameAcquired.
            loop {
                let m = bus.recv_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
                let m = m.ok_or(format!("{}: no NameAcquired for {n}", c.name))?;
                if m.member() == Some("NameAcquired") && m.arg0_str().as_deref() == Some(n) {
                    break;
                }
            }
        }
        buses.push(bus);
    }
    let uniques: Vec<String> = buses.iter().map(|b| b.unique_name().to_owned()).collect();
    // A connection of its own for the daemon's counters at the end.
    let mut admin = Bus::connect(&addr).map_err(|e| format!("connect to {at}: {e}"))?;

    let (ev_tx, ev_rx) = mpsc::channel();
    let mut pipes = Vec::new();
    let mut threads: Vec<JoinHandle<Result<Tally>>> = Vec::new();
    for (i, bus) in buses.into_iter().enumerate() {
        let (rd, wr) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let tx = ev_tx.clone();
        threads.push(std::thread::spawn(move || serve(i, bus, File::from(OwnedFd::from(rd)), tx)));
        pipes.push(File::from(OwnedFd::from(wr)));
    }
    let command = |pipes: &mut Vec<File>, who: usize, byte: u8| -> Result<()> {
        pipes[who].write_all(&[byte]).map_err(|e| format!("command: {e}"))?;
        match ev_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Event::Done(r)) => r.map_err(|e| format!("{}: {e}", cast[who].name)),
            Ok(Event::Sum(..)) => Err("a reply before the call was sent".into()),
            Err(_) => Err(format!("{}: no answer", cast[who].name)),
        }
    };
    // The signals, one at a time, a little apart: each subscriber that
    // wants one is woken for it.
    for (k, s) in script.iter().enumerate() {
        command(&mut pipes, s.from, k as u8)?;
        std::thread::sleep(Duration::from_millis(10));
    }
    command(&mut pipes, CALLER, CALL_ADD)?;
    let (sum, served_by) = match ev_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Event::Sum(n, by)) => (n, by),
        Ok(Event::Done(_)) => return Err("an unexpected event".into()),
        Err(_) => return Err("no reply to Add".into()),
    };
    std::thread::sleep(Duration::from_millis(10));
    drop(pipes);
    let mut tallies = Vec::new();
    for (t, c) in threads.into_iter().zip(&cast) {
        tallies.push(t.join().map_err(|_| format!("{}: panicked", c.name))?.map_err(|e| format!("{}: {e}", c.name))?);
    }
    let after = daemon_stats(&mut admin)?;
    let counter = |m: &HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let data = counter(&after, "DataMessages");
    let calls = counter(&after, "BusMessages");

    // What each client should have got: from the script and the rules.
    let expected: Vec<[u64; COLUMNS.len()]> = (0..cast.len())
        .map(|i| {
            let mut e = [0u64; COLUMNS.len()];
            if let Some(r) = cast[i].rule {
                for s in &script {
                    if r.wants(s, cast[s.from].owns.unwrap_or("")) {
                        e[if s.interface == WEATHER { 0 } else { 1 }] += 1;
                    }
                }
            }
            match i {
                CALC => e[2] = 1,
                CALLER => e[3] = 1,
                _ => {}
            }
            e
        })
        .collect();
    let fine = |i: usize| {
        let t = &tallies[i];
        let n: u64 = t.got.iter().sum::<u64>() + t.other;
        t.got == expected[i] && t.other == 0 && t.dropped == 0 && t.woken <= n
    };
    let forecast_readers: Vec<&str> = cast
        .iter()
        .zip(&tallies)
        .filter(|(_, t)| t.forecast.is_some())
        .map(|(c, _)| c.name)
        .collect();
    let forecast_ok = tallies.iter().all(|t| t.forecast.as_deref().is_none_or(|f| f == FORECAST));
    let all_fine = (0..cast.len()).all(fine) && data == 0 && sum == 42 && forecast_ok && !forecast_readers.is_empty();

    if counts_only {
        for (i, (c, t)) in cast.iter().zip(&tallies).enumerate() {
            let want: Vec<String> = expected[i].iter().map(u64::to_string).collect();
            println!(
                "client={} weather={} stocks={} calls={} replies={} other={} expected={} woken={} dropped={} forecast={}",
                c.name,
                t.got[0],
                t.got[1],
                t.got[2],
                t.got[3],
                t.other,
                want.join(","),
                t.woken,
                t.dropped,
                t.forecast.as_deref() == Some(FORECAST)
            );
        }
        println!("sum={sum} served_by_calculator={}", served_by == uniques[CALC]);
        println!("daemon data={data} bus_calls={calls}");
        println!("ok={all_fine}");
    } else {
        println!("{} clients on the bus at {at}, each a thread waiting in poll(2):", cast.len());
        for (c, u) in cast.iter().zip(&uniques) {
            if c.rule.is_none() {
                println!("  {:<15} {:<7} {:<23} {}", c.name, u, c.owns.unwrap_or(""), c.role);
            }
        }
        println!("  and 5 subscribers, with the match rules below");
        println!();
        println!("method call  caller -> org.example.Calculator.Add(19, 23) = {sum}   (reply from {served_by}, the calculator)");
        println!(
            "UNIX_FD      a memfd in the Forecast signal, read by {} through its own descriptor: \"{}\"",
            forecast_readers.join(", "),
            tallies.iter().find_map(|t| t.forecast.clone()).unwrap_or_default()
        );
        println!();
        println!(
            "{:<15} {:<47} {:>7} {:>6} {:>5} {:>7}  {:>5}  {:>7}",
            "client", "match rule (type='signal', and) / role", COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3], "woken", "dropped"
        );
        for (i, (c, t)) in cast.iter().zip(&tallies).enumerate() {
            let what = match c.rule {
                Some(r) => r.text().trim_start_matches("type='signal',").to_owned(),
                None => c.role.to_owned(),
            };
            let mark = if fine(i) { "ok" } else { "WRONG" };
            let want: Vec<String> = expected[i].iter().map(u64::to_string).collect();
            let extra = if t.other > 0 { format!(" (+{} other)", t.other) } else { String::new() };
            println!(
                "{:<15} {:<47} {:>7} {:>6} {:>5} {:>7}  {:>5}  {:>7}  {mark}{}{extra}",
                c.name,
                what,
                t.got[0],
                t.got[1],
                t.got[2],
                t.got[3],
                t.woken,
                t.dropped,
                if fine(i) { String::new() } else { format!(" (asked for {})", want.join("/")) }
            );
        }
        println!("(ok: exactly what the rule or role asks for, worked out from the nine signals sent; woken: poll(2) returns)");
        println!();
        println!("daemon (its GetStats counters): woken for data {data} times; it read {calls} records, all calls to the bus itself (Hello, AddMatch, RequestName, GetStats)");
        if all_fine {
            println!("=> every client got exactly what it asked for and was woken only for that; the daemon was never woken for data");
        } else {
            println!("=> SOMETHING IS WRONG: see the lines not marked ok");
        }
    }
    if all_fine {
        Ok(())
    } else {
        std::process::exit(1)
    }
}
