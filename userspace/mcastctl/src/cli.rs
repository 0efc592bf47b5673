//! The command line: subcommands, their arguments and their help.

use crate::address;
use clap::{Args, Parser, Subcommand};
use mcast_unix::Addr;

const ADDRESS_HELP: &str = "Group or socket address: @NAME for an abstract name (e.g. @demo), anything else a filesystem path (e.g. /tmp/demo.sock)";

/// Multicast Unix-domain sockets from a shell.
#[derive(Debug, Parser)]
#[command(
    name = "mcastctl",
    version,
    about = "Try multicast Unix-domain sockets (the mcast_unix kernel module) from a shell",
    long_about = "Try multicast Unix-domain sockets (the mcast_unix kernel module) from a shell.\n\n\
        A group is an address owned by one socket (`create`). Members receive every message sent to \
        the group, all in the same order. Datagram groups are joined by anyone who may reach the \
        address (`join`); seqpacket groups admit each member after the owner checks who it is.\n\n\
        Addresses are @NAME for an abstract name (gone when its socket closes) or a filesystem \
        path (the socket file stays until removed). The module must be loaded; \
        /sys/module/mcast_unix/parameters/family gives its address family.",
    after_help = "Example, in three terminals:\n  \
        mcastctl create @demo          # own the group @demo\n  \
        mcastctl join @demo            # print what the group receives\n  \
        mcastctl send @demo hello      # every member prints \"hello\"\n\n\
        Run `mcastctl help SUBCOMMAND` for the options of each."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Create(Create),
    Join(Join),
    Send(Send),
    Recv(Recv),
    Wait(Wait),
    Stat(Stat),
    Watch(Watch),
    Bus(BusArgs),
    Call(Call),
    Emit(Emit),
    Monitor(Monitor),
}

/// Membership flags (`MCAST_UNIX_*`) a member gets: `join` (datagram) asks
/// for its own, `create --seqpacket` gives them at admission.
#[derive(Debug, Args, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Membership flag: the member also receives the group messages it sends itself (MCAST_UNIX_LOOPBACK)
    #[arg(long)]
    pub loopback: bool,
    /// Membership flag: when the member's receive queue is full, its copy is dropped (and counted) instead of holding the sender back (MCAST_UNIX_DROP_WHEN_FULL)
    #[arg(long)]
    pub drop_when_full: bool,
    /// Membership flag: the group's owner gets a copy of every message the member sends (MCAST_UNIX_SEND_TO_PEER)
    #[arg(long)]
    pub send_to_peer: bool,
}

impl Flags {
    /// The `MCAST_UNIX_*` bits.
    pub fn bits(self) -> u32 {
        (if self.loopback {
            mcast_unix::MCAST_UNIX_LOOPBACK
        } else {
            0
        }) | (if self.drop_when_full {
            mcast_unix::MCAST_UNIX_DROP_WHEN_FULL
        } else {
            0
        }) | (if self.send_to_peer {
            mcast_unix::MCAST_UNIX_SEND_TO_PEER
        } else {
            0
        })
    }
}

/// How received messages are printed.
#[derive(Debug, Args, Clone, Copy, Default, PartialEq, Eq)]
pub struct Print {
    /// Stop after N messages (default: run until interrupted)
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,
    /// Show the sender's pid, uid and gid (SO_PASSCRED)
    #[arg(long)]
    pub creds: bool,
    /// Show the id the kernel stamped on the message: the sending socket's id, which no sender can forge (MCAST_UNIX_PASS_SENDER_ID)
    #[arg(long)]
    pub sender_id: bool,
}

/// Own a group at an address and keep it until interrupted.
#[derive(Debug, Args)]
#[command(
    about = "Own a group at an address and keep it until interrupted",
    long_about = "Own a group at an address and keep it until interrupted (or for --duration seconds).\n\n\
        The owner holds the address; it is not a member. A datagram group (the default) is joined \
        by anyone who may reach the address: `mcastctl join`. A seqpacket group (--seqpacket) \
        accepts connections and admits each client as a member, with the flags given here, if its \
        uid (SO_PEERCRED) is allowed. Members that send with --send-to-peer give the owner a copy, \
        which this command prints.",
    after_help = "Examples:\n  \
        mcastctl create @signals                      # a datagram group, until Ctrl-C\n  \
        mcastctl create --duration 30 /tmp/signals    # at a path, for 30 seconds\n  \
        mcastctl create --seqpacket --allow-uid 0 --allow-uid 1000 --loopback @room\n                                                \
        # admit only root and uid 1000; they hear themselves"
)]
pub struct Create {
    #[arg(value_name = "ADDRESS", help = ADDRESS_HELP, value_parser = address::parse)]
    pub address: Addr,
    /// Create a seqpacket group (members are admitted by this owner) instead of a datagram group
    #[arg(long)]
    pub seqpacket: bool,
    /// Seqpacket: admit only clients with this uid (repeat for more); default: admit everyone
    #[arg(long = "allow-uid", value_name = "UID", requires = "seqpacket")]
    pub allow_uids: Vec<u32>,
    /// Seqpacket: the flags every admitted member gets (a datagram member picks its own: `join --loopback`...)
    #[command(flatten)]
    pub flags: Flags,
    /// Give up the group after SECONDS (default: keep it until interrupted)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
}

/// Join a group and print every message it receives.
#[derive(Debug, Args)]
#[command(
    about = "Join a group and print every message that arrives",
    long_about = "Join a group and print every message that arrives, with its sender's address.\n\n\
        A datagram group is joined directly, with the flags given here. A seqpacket group \
        (--seqpacket) is joined by connecting to its owner, which admits the connection (with the \
        flags it chooses) or refuses it; this command waits for the admission.",
    after_help = "Examples:\n  \
        mcastctl join @signals                        # print until Ctrl-C\n  \
        mcastctl join --count 3 --label alice @signals\n  \
        mcastctl join --drop-when-full --sender-id @signals\n  \
        mcastctl join --seqpacket @room               # connect; the owner admits"
)]
pub struct Join {
    #[arg(value_name = "ADDRESS", help = ADDRESS_HELP, value_parser = address::parse)]
    pub address: Addr,
    /// Join a seqpacket group (connect and wait to be admitted by its owner)
    #[arg(long)]
    pub seqpacket: bool,
    /// Datagram: membership flags (a seqpacket member gets those of `create --seqpacket`)
    #[command(flatten)]
    pub flags: Flags,
    #[command(flatten)]
    pub print: Print,
    /// Start each printed line with LABEL (to tell several members apart)
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
}

/// Send messages to an address or group.
#[derive(Debug, Args)]
#[command(
    about = "Send messages to a group or a socket",
    long_about = "Send messages to a group (every member gets each one) or to a single socket \
        (e.g. one running `mcastctl recv`).\n\n\
        Each MESSAGE argument is one message; without any, each line of standard input is one \
        (without its newline). The sending socket gets an automatic abstract address (or --from) \
        so receivers see who sent; its id, which receivers see with --sender-id, is printed first.",
    after_help = "Examples:\n  \
        mcastctl send @signals NameOwnerChanged PropertiesChanged\n  \
        printf 'one\\ntwo\\n' | mcastctl send @signals\n  \
        mcastctl send --seqpacket @room 'hello, room'  # as an admitted member"
)]
pub struct Send {
    #[arg(value_name = "ADDRESS", help = ADDRESS_HELP, value_parser = address::parse)]
    pub address: Addr,
    /// The messages, one per argument (default: one per line of standard input)
    #[arg(value_name = "MESSAGE")]
    pub messages: Vec<String>,
    /// Send from this address instead of an automatic one
    #[arg(long, value_name = "ADDRESS", value_parser = address::parse, conflicts_with = "seqpacket")]
    pub from: Option<Addr>,
    /// Send to a seqpacket group: connect, wait to be admitted as a member, then send
    #[arg(long)]
    pub seqpacket: bool,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
}

/// Bind a socket and print what is sent to it.
#[derive(Debug, Args)]
#[command(
    about = "Bind a datagram socket to an address and print what is sent to it",
    long_about = "Bind a datagram socket to an address and print every message sent to it (unicast, \
        e.g. by `mcastctl send ADDRESS`), with the sender's address and, on request, its \
        credentials and the sender id the kernel stamped. The socket's own id is printed first. \
        A path address leaves a socket file behind: remove it before binding the path again.",
    after_help = "Examples:\n  \
        mcastctl recv @inbox\n  \
        mcastctl recv --creds --sender-id --count 1 /tmp/inbox.sock"
)]
pub struct Recv {
    #[arg(value_name = "ADDRESS", help = ADDRESS_HELP, value_parser = address::parse)]
    pub address: Addr,
    #[command(flatten)]
    pub print: Print,
}

/// Wait until a group exists (with enough members).
#[derive(Debug, Args)]
#[command(
    about = "Wait until a group exists, or has at least N members (for scripts)",
    long_about = "Wait until a group exists, or has at least --members N members, as \
        /proc/net/mcast_unix shows it; fail after --timeout seconds. Scripts use it to start \
        sending only once the members are in.",
    after_help = "Example:\n  \
        mcastctl create @signals & mcastctl wait @signals\n  \
        for who in alice bob; do mcastctl join -n 1 --label $who @signals & done\n  \
        mcastctl wait --members 2 @signals && mcastctl send @signals hi"
)]
pub struct Wait {
    #[arg(value_name = "ADDRESS", help = ADDRESS_HELP, value_parser = address::parse)]
    pub address: Addr,
    /// Wait for at least N members (default 0: the group exists)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub members: u64,
    /// Give up after SECONDS
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

/// Which part of the listing to show.
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
pub struct TableArgs {
    /// Only the sockets table
    #[arg(long, conflicts_with = "groups")]
    pub sockets: bool,
    /// Only the groups table
    #[arg(long)]
    pub groups: bool,
    /// Read a saved copy of the listing instead of /proc/net/mcast_unix
    #[arg(long, value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
}

/// What the columns of `stat` and `watch` mean (a macro, for `concat!`).
macro_rules! columns_help {
    () => {
        "Columns of SOCKETS (one line per socket of this network namespace):\n  \
        INODE    as `ls -l /proc/PID/fd` shows it (socket:[INODE])\n  \
        TYPE     dgram or seqpacket\n  \
        STATE    unconnected, connected or listening\n  \
        ROLE     owner (of a group), member (of at least one) or plain\n  \
        ADDRESS  @name (abstract), a path, or - if unbound\n  \
        GROUPS   groups it joined\n  \
        RMEM     bytes waiting in its receive queue\n  \
        DROPS    messages dropped because it was full (--drop-when-full)\n\
        Columns of GROUPS: ADDRESS, TYPE, MEMBERS, SENT messages, DROPPED copies."
    };
}

/// Show the family's sockets and groups.
#[derive(Debug, Args)]
#[command(
    about = "Show the family's sockets and groups as tables (from /proc/net/mcast_unix)",
    after_help = concat!(
        "Examples:\n  mcastctl stat\n  mcastctl stat --groups\n\n",
        columns_help!()
    )
)]
pub struct Stat {
    #[command(flatten)]
    pub table: TableArgs,
    /// Print the file as the kernel writes it
    #[arg(long)]
    pub raw: bool,
}

/// Show the tables again and again.
#[derive(Debug, Args)]
#[command(
    about = "Show the tables of `stat`, refreshed every INTERVAL milliseconds until interrupted",
    after_help = concat!(
        "Examples:\n  mcastctl watch                     # every second, until Ctrl-C\n  \
         mcastctl watch --interval 200 --groups\n\n",
        columns_help!()
    )
)]
pub struct Watch {
    #[command(flatten)]
    pub table: TableArgs,
    /// Milliseconds between refreshes
    #[arg(short, long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Stop after N refreshes (default: until interrupted)
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,
}

const BUS_HELP: &str = "The bus's address (as for `mcastctl bus`)";

/// Run the bus daemon.
#[derive(Debug, Args)]
#[command(
    about = "Run a D-Bus-style bus on a seqpacket group (the daemon)",
    long_about = "Run a D-Bus-style message bus on a seqpacket group at ADDRESS, until interrupted \
        (or for --duration seconds); then print its counters.\n\n\
        Clients (`mcastctl call`, `emit`, `monitor`, or programs using mcast_unix::bus) connect, say \
        Hello and get a unique name :1.N (N: their socket's kernel id). The daemon admits root, its \
        own user and those of --allow-uid/--allow-gid (SO_PEERCRED); others get AccessDenied. It \
        keeps the names (RequestName...) and each client's match rules as a BPF filter in the \
        kernel, so messages go straight from sender to receivers: the daemon only wakes for calls \
        to org.freedesktop.DBus, and its counters say how many other messages reached it (0).",
    after_help = "Examples:\n  \
        mcastctl bus                        # the bus at @bus, root and your uid admitted\n  \
        mcastctl bus --allow-uid 1000 @mybus\n  \
        mcastctl bus --duration 10 @bus     # for a script: 10 seconds, then the counters"
)]
pub struct BusArgs {
    #[arg(value_name = "ADDRESS", help = ADDRESS_HELP, value_parser = address::parse, default_value = "@bus")]
    pub address: Addr,
    /// Also admit clients with this uid (repeat for more); root and the daemon's uid always are
    #[arg(long = "allow-uid", value_name = "UID")]
    pub allow_uids: Vec<u32>,
    /// Also admit clients with this gid (repeat for more)
    #[arg(long = "allow-gid", value_name = "GID")]
    pub allow_gids: Vec<u32>,
    /// Well-known names one client may own or wait for
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_names: usize,
    /// Match rules per client (AddMatch past it: LimitsExceeded)
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_matches: usize,
    /// Clients at once (the group's max_members caps it too)
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// A client whose receive queue is full holds every sender back (lossless) instead of losing what is sent to it (the default, MCAST_UNIX_DROP_WHEN_FULL: no client can stall the bus by not reading)
    #[arg(long)]
    pub hold_senders: bool,
    /// Stop after SECONDS (default: run until interrupted)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Print only the counters at the end
    #[arg(short, long)]
    pub quiet: bool,
}

const ARG_HELP: &str = "Arguments, each TYPE:VALUE with TYPE one of s o b y n q i u x t d (D-Bus type codes) or h (h:PATH opens PATH and passes its descriptor); without a known TYPE: a string";

/// Call a method on the bus.
#[derive(Debug, Args)]
#[command(
    about = "Call a method on the bus and print the reply",
    long_about = "Connect to the bus, call METHOD of INTERFACE on object PATH of DESTINATION with the \
        arguments given, and print the reply (or the D-Bus error) as a line: type, serial, sender, \
        signature and body.",
    after_help = "Examples:\n  \
        mcastctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames\n  \
        mcastctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s:org.example.Echo\n  \
        mcastctl call --bus @mybus org.example.Echo /org/example/Echo org.example.Echo Echo hello u:3"
)]
pub struct Call {
    #[arg(long, value_name = "ADDRESS", help = BUS_HELP, value_parser = address::parse, default_value = "@bus")]
    pub bus: Addr,
    /// Give up after SECONDS without a reply (D-Bus error NoReply)
    #[arg(long, value_name = "SECONDS", default_value_t = 25)]
    pub timeout: u64,
    /// The bus name to call: a well-known name (org.example.Echo) or a unique name (:1.42)
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    /// The object path (/org/example/Echo)
    #[arg(value_name = "PATH")]
    pub path: String,
    /// The interface (org.example.Echo); - for none
    #[arg(value_name = "INTERFACE")]
    pub interface: String,
    /// The method (Echo)
    #[arg(value_name = "METHOD")]
    pub member: String,
    #[arg(value_name = "ARG", help = ARG_HELP)]
    pub args: Vec<String>,
}

/// Emit a signal on the bus.
#[derive(Debug, Args)]
#[command(
    about = "Emit a signal on the bus",
    long_about = "Connect to the bus and emit signal NAME of INTERFACE from object PATH, with the \
        arguments given. It reaches the clients whose match rules take it (or only --dest). The \
        signal is printed as sent.",
    after_help = "Examples:\n  \
        mcastctl emit /org/example/Clock org.example.Clock Tick u:1\n  \
        mcastctl emit --dest :1.42 /org/example org.example.Notes Note 'for you only'"
)]
pub struct Emit {
    #[arg(long, value_name = "ADDRESS", help = BUS_HELP, value_parser = address::parse, default_value = "@bus")]
    pub bus: Addr,
    /// Send to this bus name only (a unicast signal)
    #[arg(long = "dest", value_name = "NAME")]
    pub destination: Option<String>,
    /// Print nothing but errors
    #[arg(short, long)]
    pub quiet: bool,
    /// The object path the signal comes from (/org/example/Clock)
    #[arg(value_name = "PATH")]
    pub path: String,
    /// The interface (org.example.Clock)
    #[arg(value_name = "INTERFACE")]
    pub interface: String,
    /// The signal's name (Tick)
    #[arg(value_name = "NAME")]
    pub member: String,
    #[arg(value_name = "ARG", help = ARG_HELP)]
    pub args: Vec<String>,
}

/// Print the bus's traffic.
#[derive(Debug, Args)]
#[command(
    about = "Print every message on the bus (root or the bus's user only)",
    long_about = "Connect to the bus as a monitor: the daemon makes this client's filter accept every \
        message sent through the group and copies to it what the daemon itself sends. Each message \
        is printed as a line. With RULEs (match-rule syntax) only the messages matching one are \
        printed.",
    after_help = "Examples:\n  \
        mcastctl monitor\n  \
        mcastctl monitor -n 10 \"type='signal',interface='org.example.Clock'\""
)]
pub struct Monitor {
    #[arg(long, value_name = "ADDRESS", help = BUS_HELP, value_parser = address::parse, default_value = "@bus")]
    pub bus: Addr,
    /// Stop after N messages
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,
    /// Print only messages matching one of these match rules (e.g. "type='signal',member='Tick'")
    #[arg(value_name = "RULE")]
    pub rules: Vec<String>,
}
