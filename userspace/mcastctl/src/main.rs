//! `mcastctl`: multicast Unix-domain sockets from a shell.
//!
//! Subcommands: `create` (own a datagram or seqpacket group), `join` (be a
//! member and print what arrives), `send`, `recv` (bind and print unicast
//! messages), `wait` (for a group and its members, in scripts), `stat` and
//! `watch` (the tables of `/proc/net/mcast_unix`); and the bus: `bus` (run
//! the daemon), `call`, `emit`, `monitor`. `mcastctl --help` and
//! `mcastctl help SUBCOMMAND` explain each.

mod address;
mod bus;
mod cli;
mod run;
mod table;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    if let Err(e) = run::run(cli.command) {
        eprintln!("mcastctl: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command, Flags, Print};
    use clap::{error::ErrorKind, CommandFactory, Parser};
    use mcast_unix::{
        Addr, MCAST_UNIX_DROP_WHEN_FULL, MCAST_UNIX_LOOPBACK, MCAST_UNIX_SEND_TO_PEER,
    };

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("mcastctl").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    fn kind(args: &[&str]) -> ErrorKind {
        parse(args).unwrap_err().kind()
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create() {
        let Command::Create(c) = parse(&["create", "@g"]).unwrap() else {
            panic!()
        };
        assert_eq!(c.address, Addr::abstract_("g").unwrap());
        assert!(
            !c.seqpacket
                && c.allow_uids.is_empty()
                && c.duration.is_none()
                && c.flags == Flags::default()
        );
        let Command::Create(c) = parse(&[
            "create",
            "--seqpacket",
            "--allow-uid",
            "0",
            "--allow-uid",
            "1000",
            "--loopback",
            "--send-to-peer",
            "--duration",
            "5",
            "/tmp/g",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.address, Addr::path("/tmp/g").unwrap());
        assert!(c.seqpacket);
        assert_eq!(c.allow_uids, [0, 1000]);
        assert_eq!(
            c.flags.bits(),
            MCAST_UNIX_LOOPBACK | MCAST_UNIX_SEND_TO_PEER
        );
        assert_eq!(c.duration, Some(5));
        // A uid policy only makes sense for seqpacket admission.
        assert_eq!(
            kind(&["create", "--allow-uid", "0", "@g"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["create", "--allow-uid", "root", "--seqpacket", "@g"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind(&["create"]), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn join() {
        let Command::Join(j) = parse(&[
            "join",
            "--drop-when-full",
            "-n",
            "3",
            "--label",
            "alice",
            "--sender-id",
            "@g",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(j.flags.bits(), MCAST_UNIX_DROP_WHEN_FULL);
        assert_eq!(
            j.print,
            Print {
                count: Some(3),
                creds: false,
                sender_id: true
            }
        );
        assert_eq!(j.label.as_deref(), Some("alice"));
        let Command::Join(j) = parse(&[
            "join",
            "--loopback",
            "--drop-when-full",
            "--send-to-peer",
            "@g",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            j.flags.bits(),
            MCAST_UNIX_LOOPBACK | MCAST_UNIX_DROP_WHEN_FULL | MCAST_UNIX_SEND_TO_PEER
        );
        assert_eq!(
            kind(&["join", "--count", "x", "@g"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind(&["join", "--drop", "@g"]), ErrorKind::UnknownArgument);
    }

    #[test]
    fn send() {
        let Command::Send(s) = parse(&["send", "@g", "one", "two words"]).unwrap() else {
            panic!()
        };
        assert_eq!(s.messages, ["one", "two words"]);
        assert!(s.from.is_none() && !s.quiet && !s.seqpacket);
        let Command::Send(s) = parse(&["send", "-q", "--from", "@me", "@g"]).unwrap() else {
            panic!()
        };
        assert!(s.messages.is_empty() && s.quiet);
        assert_eq!(s.from, Some(Addr::abstract_("me").unwrap()));
        // A seqpacket member's address is its connection's.
        assert_eq!(
            kind(&["send", "--seqpacket", "--from", "@me", "@g"]),
            ErrorKind::ArgumentConflict
        );
        // Messages that look like options go after `--`.
        let Command::Send(s) = parse(&["send", "@g", "--", "-n"]).unwrap() else {
            panic!()
        };
        assert_eq!(s.messages, ["-n"]);
    }

    #[test]
    fn recv() {
        let Command::Recv(r) =
            parse(&["recv", "--creds", "--sender-id", "-n", "1", "/tmp/in"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.address, Addr::path("/tmp/in").unwrap());
        assert_eq!(
            r.print,
            Print {
                count: Some(1),
                creds: true,
                sender_id: true
            }
        );
        // recv binds a socket: no membership flags.
        assert_eq!(
            kind(&["recv", "--loopback", "@in"]),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn wait() {
        let Command::Wait(w) = parse(&["wait", "@g"]).unwrap() else {
            panic!()
        };
        assert_eq!((w.members, w.timeout), (0, 60));
        let Command::Wait(w) = parse(&["wait", "--members", "3", "--timeout", "5", "@g"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((w.members, w.timeout), (3, 5));
    }

    #[test]
    fn stat_and_watch() {
        let Command::Stat(s) = parse(&["stat"]).unwrap() else {
            panic!()
        };
        assert!(!s.raw && !s.table.sockets && !s.table.groups && s.table.file.is_none());
        let Command::Stat(s) = parse(&["stat", "--groups", "--file", "saved.txt"]).unwrap() else {
            panic!()
        };
        assert!(s.table.groups);
        assert_eq!(
            s.table.file.as_deref(),
            Some(std::path::Path::new("saved.txt"))
        );
        assert_eq!(
            kind(&["stat", "--groups", "--sockets"]),
            ErrorKind::ArgumentConflict
        );
        let Command::Watch(w) = parse(&["watch"]).unwrap() else {
            panic!()
        };
        assert_eq!((w.interval, w.count), (1000, None));
        let Command::Watch(w) = parse(&["watch", "-i", "200", "-n", "2", "--sockets"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((w.interval, w.count, w.table.sockets), (200, Some(2), true));
        assert_eq!(
            kind(&["watch", "--interval", "0"]),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn bad_addresses_are_rejected_with_a_reason() {
        let e = parse(&["join", "@"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert!(e.to_string().contains("after '@'"), "{e}");
        assert_eq!(
            kind(&["send", &"x".repeat(200), "m"]),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn bus_subcommands() {
        let Command::Bus(b) = parse(&["bus"]).unwrap() else { panic!("bus") };
        assert_eq!(b.address, Addr::abstract_("bus").unwrap());
        assert_eq!((b.max_names, b.max_matches, b.duration), (256, 512, None));
        let Command::Bus(b) = parse(&["bus", "--allow-uid", "5", "--allow-uid", "6", "--allow-gid", "7", "@x"]).unwrap() else {
            panic!("bus")
        };
        assert_eq!((b.allow_uids, b.allow_gids), (vec![5, 6], vec![7]));
        let Command::Call(c) = parse(&["call", "org.a.B", "/p", "org.a.B", "M", "u:3", "text"]).unwrap() else {
            panic!("call")
        };
        assert_eq!((c.destination.as_str(), c.path.as_str(), c.member.as_str(), c.timeout), ("org.a.B", "/p", "M", 25));
        assert_eq!(c.args, ["u:3", "text"]);
        assert_eq!(kind(&["call", "org.a.B", "/p"]), ErrorKind::MissingRequiredArgument);
        let Command::Emit(e) = parse(&["emit", "--dest", ":1.4", "/p", "a.b", "S"]).unwrap() else { panic!("emit") };
        assert_eq!(e.destination.as_deref(), Some(":1.4"));
        let Command::Monitor(m) = parse(&["monitor", "-n", "2", "member='S'"]).unwrap() else { panic!("monitor") };
        assert_eq!((m.count, m.rules.len()), (Some(2), 1));
    }

    #[test]
    fn every_subcommand_explains_itself() {
        let mut cmd = Cli::command();
        cmd.build();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            if name == "help" {
                continue;
            }
            assert!(sub.get_about().is_some(), "{name}: no about");
            let after = sub
                .get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(
                after.contains(&format!("mcastctl {name}")),
                "{name}: no example"
            );
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" {
                    assert!(arg.get_help().is_some(), "{name} {id}: no help");
                }
            }
        }
    }
}
