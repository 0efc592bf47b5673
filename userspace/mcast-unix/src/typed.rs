//! Typed sockets: one type per kind of socket, in the shape of std's
//! [`UnixDatagram`](std::os::unix::net::UnixDatagram),
//! [`UnixListener`](std::os::unix::net::UnixListener) and
//! [`UnixStream`](std::os::unix::net::UnixStream).
//!
//! [`Socket`] offers every call on every socket and lets the kernel refuse
//! the ones that do not apply. These types offer only the calls that make
//! sense for what the socket is, so a mistake is a compile error:
//!
//! | type | what it is | made by | its own calls |
//! |---|---|---|---|
//! | [`McastDatagram`] | a datagram socket; a group member by joining; a datagram group's owner | [`unbound`](McastDatagram::unbound), [`bind`](McastDatagram::bind), [`create_group`](McastDatagram::create_group), [`pair`](McastDatagram::pair) | `connect`, `send_to`, `recv_from`, [`join_group`](McastDatagram::join_group), [`leave_group`](McastDatagram::leave_group) |
//! | [`McastListener`] | a listening seqpacket socket | [`bind`](McastListener::bind) | [`accept`](McastListener::accept) → [`McastSeqpacket`], [`incoming`](McastListener::incoming) |
//! | [`McastGroupListener`] | a seqpacket group's owner, listening | [`create`](McastGroupListener::create) | [`accept`](McastGroupListener::accept) → [`McastAccepted`], [`incoming`](McastGroupListener::incoming) |
//! | [`McastSeqpacket`] | a seqpacket connection (a client; a group member once admitted) | [`connect`](McastSeqpacket::connect), [`pair`](McastSeqpacket::pair), [`McastListener::accept`] | [`peer_id`](McastSeqpacket::peer_id) |
//! | [`McastAccepted`] | the owner's end of a client's connection to a seqpacket group | [`McastGroupListener::accept`] | [`admit_member`](McastAccepted::admit_member), [`set_peer_filter`](McastAccepted::set_peer_filter), [`peer_id`](McastAccepted::peer_id) |
//!
//! A seqpacket listener has no `join_group` (seqpacket membership is by
//! admission), and only a connection a group owner accepted has
//! `admit_member`:
//!
//! ```compile_fail
//! # fn f(listener: mcast_unix::McastListener, group: mcast_unix::Addr) {
//! listener.join_group(&group, mcast_unix::MembershipFlags::empty()); // no such method
//! # }
//! ```
//!
//! ```compile_fail
//! # fn f(conn: mcast_unix::McastSeqpacket) {
//! conn.admit_member(mcast_unix::MembershipFlags::LOOPBACK); // only on McastAccepted
//! # }
//! ```
//!
//! Every type has `local_addr`, `id`, `family`, `set_nonblocking`,
//! `set_read_timeout`/`read_timeout` (for a listener: how long `accept`
//! waits), `take_error`, `try_clone`, [`AsFd`], [`AsRawFd`], `From<…> for`
//! [`OwnedFd`] and `From<…> for` [`Socket`] (or
//! [`into_socket`](McastDatagram::into_socket)) to reach the untyped calls.
//! The three that carry messages ([`McastDatagram`], [`McastSeqpacket`],
//! [`McastAccepted`]) also have `send`, `recv`, `peek`, `send_msg`,
//! `send_with_fds`, `recv_msg` (credentials, drop counter, sender id and
//! descriptors in a [`RecvMeta`]), `peer_addr`, `peer_cred`,
//! `set_write_timeout`, `shutdown`, `set_passcred`, `set_pass_sender_id`,
//! `set_recv_overflow`, the buffer sizes and `attach_filter`.
//!
//! Each method is the [`Socket`] call of the same name (one system call;
//! errors are the kernel's errno), except where its documentation says
//! otherwise: the constructors that bind also listen, and the flags are a
//! [`MembershipFlags`] instead of a `u32`.
//!
//! The constructors without a suffix use the loaded module's family
//! ([`family()`](crate::family)); the `_in` ones take a family, which lets
//! the examples below run on `AF_UNIX` (the group calls need the module).

use crate::addr::Addr;
use crate::filter::Program;
use crate::flags::MembershipFlags;
use crate::socket::{RecvMeta, SockType, Socket};
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

/// A doc example of a method the macros below write for several types:
/// `$setup` (each type's own) makes the socket `s`, and for the sockets that
/// carry messages `peer`, connected to it; `$attr` is `""` or `"no_run"`.
macro_rules! example {
    ($attr:literal, $setup:literal, $body:literal) => {
        concat!(
            "```", $attr, "\n",
            "# use mcast_unix::*;\n",
            "# use std::net::Shutdown;\n",
            "# use std::os::fd::AsFd;\n",
            "# use std::time::Duration;\n",
            "# fn main() -> std::io::Result<()> {\n",
            $setup, "\n",
            $body, "\n",
            "# Ok(())\n",
            "# }\n",
            "```",
        )
    };
}

/// The calls every typed socket has; the examples start with `$setup`.
macro_rules! common_methods {
    ($ty:ident, $attr:literal, $setup:literal) => {
        impl $ty {
            /// getsockname(): the address this socket is bound to.
            ///
            #[doc = example!($attr, $setup, r#"println!("bound at {}", s.local_addr()?);"#)]
            pub fn local_addr(&self) -> io::Result<Addr> {
                self.sock.local_addr()
            }

            /// The address family this socket was made with.
            ///
            #[doc = example!($attr, $setup, r#"println!("address family {}", s.family());"#)]
            pub fn family(&self) -> i32 {
                self.sock.family()
            }

            /// This socket's id, unique for the boot (`SO_COOKIE`): what
            /// the messages it sends carry as their sender id.
            ///
            #[doc = example!($attr, $setup, r#"let id = s.id()?;
assert_eq!(s.try_clone()?.id()?, id, "a clone is the same socket");"#)]
            pub fn id(&self) -> io::Result<u64> {
                self.sock.id()
            }

            /// Sets or clears `O_NONBLOCK`: calls that would wait give
            /// [`io::ErrorKind::WouldBlock`] instead.
            ///
            #[doc = example!($attr, $setup, r#"s.set_nonblocking(true)?;
// Calls that would wait now fail with WouldBlock at once.
s.set_nonblocking(false)?;"#)]
            pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
                self.sock.set_nonblocking(nonblocking)
            }

            /// `SO_RCVTIMEO`: how long a blocking receive (or accept) waits
            /// before [`io::ErrorKind::WouldBlock`]; `None` waits forever.
            ///
            #[doc = example!($attr, $setup, r#"s.set_read_timeout(Some(Duration::from_millis(200)))?;
assert_eq!(s.read_timeout()?, Some(Duration::from_millis(200)));"#)]
            pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_read_timeout(timeout)
            }

            /// `SO_RCVTIMEO` read back (`None`: no timeout).
            ///
            #[doc = example!($attr, $setup, r#"assert_eq!(s.read_timeout()?, None, "no timeout by default");"#)]
            pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
                self.sock.read_timeout()
            }

            /// `SO_ERROR`: takes the socket's pending error, if any.
            ///
            #[doc = example!($attr, $setup, r#"assert!(s.take_error()?.is_none());"#)]
            pub fn take_error(&self) -> io::Result<Option<io::Error>> {
                self.sock.take_error()
            }

            /// A second handle on the same socket (a duplicated descriptor,
            /// close-on-exec): both share the queue, the options and any
            /// group membership.
            ///
            #[doc = example!($attr, $setup, r#"let other = s.try_clone()?;
assert_eq!(other.id()?, s.id()?);"#)]
            pub fn try_clone(&self) -> io::Result<$ty> {
                Ok($ty { sock: self.sock.try_clone()? })
            }

            /// The untyped [`Socket`], with every call.
            ///
            #[doc = example!($attr, $setup, r#"let family = s.family();
let sock: Socket = s.into_socket();
assert_eq!(sock.family(), family);"#)]
            pub fn into_socket(self) -> Socket {
                self.sock
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.sock.as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.sock.as_raw_fd()
            }
        }

        impl From<$ty> for OwnedFd {
            fn from(s: $ty) -> OwnedFd {
                s.sock.into()
            }
        }

        impl From<$ty> for Socket {
            fn from(s: $ty) -> Socket {
                s.sock
            }
        }
    };
}

/// The calls of the sockets that carry messages; the examples start with
/// `$setup`, or with `$msetup` (the module's family) for the family's own
/// options.
macro_rules! data_methods {
    ($ty:ident, $attr:literal, $setup:literal, $msetup:literal) => {
        impl $ty {
            /// send() to the connected peer (or group). Returns the bytes
            /// sent: a message is sent whole or not at all. A closed peer
            /// gives `EPIPE` (never SIGPIPE).
            ///
            #[doc = example!($attr, $setup, r#"s.send(b"hello")?;
let mut buf = [0u8; 16];
assert_eq!(peer.recv(&mut buf)?, 5);"#)]
            pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
                self.sock.send(buf)
            }

            /// send() with `MSG_*` flags (such as `MSG_DONTWAIT`).
            ///
            #[doc = example!($attr, $setup, r#"assert_eq!(s.send_with_flags(b"hello", libc::MSG_DONTWAIT)?, 5);"#)]
            pub fn send_with_flags(&self, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
                self.sock.send_with_flags(buf, flags)
            }

            /// sendmsg() to the connected peer with credentials
            /// (`SCM_CREDENTIALS`; the kernel checks that the caller may
            /// claim them) and descriptors (`SCM_RIGHTS`; each recipient
            /// gets its own).
            ///
            #[doc = example!($attr, $setup, r#"peer.set_passcred(true)?;
// This process's credentials, which the kernel lets it claim.
let me = s.peer_cred()?;
s.send_msg(b"signed", Some(me), &[])?;
let mut buf = [0u8; 16];
assert_eq!(peer.recv_msg(&mut buf)?.cred.map(|c| c.pid), Some(me.pid));"#)]
            pub fn send_msg(&self, buf: &[u8], cred: Option<libc::ucred>, fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
                self.sock.send_msg(buf, None, cred, fds, 0)
            }

            /// sendmsg() to the connected peer with descriptors
            /// (`SCM_RIGHTS`): [`send_msg`](Self::send_msg) without
            /// credentials.
            ///
            #[doc = example!($attr, $setup, r#"let file = std::fs::File::open("/dev/null")?;
s.send_with_fds(b"a file", &[file.as_fd()])?;
let mut buf = [0u8; 16];
let passed: std::fs::File = peer.recv_msg(&mut buf)?.fds.remove(0).into();
# let _ = passed;"#)]
            pub fn send_with_fds(&self, buf: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
                self.sock.send_msg(buf, None, None, fds, 0)
            }

            /// recv(): one message into `buf`, cut to its size. Returns the
            /// bytes received; 0 from a seqpacket peer that shut down.
            ///
            #[doc = example!($attr, $setup, r#"peer.send(b"hi")?;
let mut buf = [0u8; 16];
let n = s.recv(&mut buf)?;
assert_eq!(&buf[..n], b"hi");"#)]
            pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.sock.recv(buf)
            }

            /// recv() with `MSG_*` flags (`MSG_DONTWAIT`, `MSG_PEEK`,
            /// `MSG_TRUNC`: then the message's full length is returned).
            ///
            #[doc = example!($attr, $setup, r#"peer.send(b"longer than the buffer")?;
let mut buf = [0u8; 4];
// MSG_TRUNC: the message's full length, though 4 bytes were copied.
assert_eq!(s.recv_with_flags(&mut buf, libc::MSG_TRUNC)?, 22);"#)]
            pub fn recv_with_flags(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
                self.sock.recv_with_flags(buf, flags)
            }

            /// Like [`recv`](Self::recv) but leaves the message queued.
            ///
            #[doc = example!($attr, $setup, r#"peer.send(b"hi")?;
let mut buf = [0u8; 16];
assert_eq!(s.peek(&mut buf)?, 2);
assert_eq!(s.recv(&mut buf)?, 2, "still queued after the peek");"#)]
            pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.sock.peek(buf)
            }

            /// recvmsg(): one message into `buf` with its sender, flags and
            /// ancillary data: credentials (with
            /// [`set_passcred`](Self::set_passcred)), the drop counter
            /// (with [`set_recv_overflow`](Self::set_recv_overflow)), the
            /// sender's id (with
            /// [`set_pass_sender_id`](Self::set_pass_sender_id)) and the
            /// descriptors passed, now owned by the caller.
            ///
            #[doc = example!($attr, $setup, r#"s.set_passcred(true)?;
peer.send(b"hi")?;
let mut buf = [0u8; 16];
let meta = s.recv_msg(&mut buf)?;
assert_eq!(&buf[..meta.len], b"hi");
assert_eq!(meta.cred.map(|c| c.pid as u32), Some(std::process::id()));"#)]
            pub fn recv_msg(&self, buf: &mut [u8]) -> io::Result<RecvMeta> {
                self.sock.recv_msg(buf, 0)
            }

            /// [`recv_msg`](Self::recv_msg) with `MSG_*` flags.
            ///
            #[doc = example!($attr, $setup, r#"peer.send(b"hi")?;
let mut buf = [0u8; 16];
let meta = s.recv_msg_with_flags(&mut buf, libc::MSG_PEEK)?;
assert_eq!(meta.len, 2);
assert_eq!(s.recv(&mut buf)?, 2, "still queued after the peek");"#)]
            pub fn recv_msg_with_flags(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<RecvMeta> {
                self.sock.recv_msg(buf, flags)
            }

            /// getpeername(): the connected peer's address.
            ///
            #[doc = example!($attr, $setup, r#"println!("connected to {}", s.peer_addr()?);"#)]
            pub fn peer_addr(&self) -> io::Result<Addr> {
                self.sock.peer_addr()
            }

            /// `SO_PEERCRED`: the connected peer's credentials, as they were
            /// when it connected.
            ///
            #[doc = example!($attr, $setup, r#"assert_eq!(s.peer_cred()?.pid as u32, std::process::id(), "the peer is this process");"#)]
            pub fn peer_cred(&self) -> io::Result<libc::ucred> {
                self.sock.peer_cred()
            }

            /// `SO_SNDTIMEO`: how long a blocking send waits for room
            /// before [`io::ErrorKind::WouldBlock`]; `None` waits forever.
            ///
            #[doc = example!($attr, $setup, r#"s.set_write_timeout(Some(Duration::from_millis(200)))?;
assert_eq!(s.write_timeout()?, Some(Duration::from_millis(200)));"#)]
            pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_write_timeout(timeout)
            }

            /// `SO_SNDTIMEO` read back (`None`: no timeout).
            ///
            #[doc = example!($attr, $setup, r#"assert_eq!(s.write_timeout()?, None, "no timeout by default");"#)]
            pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
                self.sock.write_timeout()
            }

            /// shutdown(). Shutting down reading also leaves every group.
            ///
            #[doc = example!($attr, $setup, r#"s.shutdown(Shutdown::Write)?;
assert!(s.send(b"late").is_err(), "EPIPE");"#)]
            pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                self.sock.shutdown(how)
            }

            /// `SO_PASSCRED`: received messages carry the sender's
            /// credentials ([`RecvMeta::cred`]).
            ///
            #[doc = example!($attr, $setup, r#"s.set_passcred(true)?;
peer.send(b"hi")?;
let mut buf = [0u8; 16];
assert!(s.recv_msg(&mut buf)?.cred.is_some());"#)]
            pub fn set_passcred(&self, on: bool) -> io::Result<()> {
                self.sock.set_passcred(on)
            }

            /// `SO_PASSCRED` read back.
            ///
            #[doc = example!($attr, $setup, r#"assert!(!s.passcred()?);
s.set_passcred(true)?;
assert!(s.passcred()?);"#)]
            pub fn passcred(&self) -> io::Result<bool> {
                self.sock.passcred()
            }

            /// `MCAST_UNIX_PASS_SENDER_ID`: received messages carry the id
            /// of the socket that sent them, stamped by the kernel
            /// ([`RecvMeta::sender_id`]).
            ///
            #[doc = example!("no_run", $msetup, r#"s.set_pass_sender_id(true)?;
peer.send(b"hi")?;
let mut buf = [0u8; 16];
assert_eq!(s.recv_msg(&mut buf)?.sender_id, Some(peer.id()?));"#)]
            pub fn set_pass_sender_id(&self, on: bool) -> io::Result<()> {
                self.sock.set_pass_sender_id(on)
            }

            /// `MCAST_UNIX_PASS_SENDER_ID` read back.
            ///
            #[doc = example!("no_run", $msetup, r#"assert!(!s.pass_sender_id()?, "off by default");"#)]
            pub fn pass_sender_id(&self) -> io::Result<bool> {
                self.sock.pass_sender_id()
            }

            /// `SO_RXQ_OVFL`: received messages carry the socket's count of
            /// dropped messages ([`RecvMeta::dropped`]).
            ///
            #[doc = example!($attr, $setup, r#"s.set_recv_overflow(true)?;
peer.send(b"hi")?;
let mut buf = [0u8; 16];
// With the module's family, the count of messages this socket dropped.
println!("{:?} dropped", s.recv_msg(&mut buf)?.dropped);"#)]
            pub fn set_recv_overflow(&self, on: bool) -> io::Result<()> {
                self.sock.set_recv_overflow(on)
            }

            /// `SO_RCVBUF`: the receive buffer size to ask for (the kernel
            /// doubles it and clamps it to its limits).
            ///
            #[doc = example!($attr, $setup, r#"s.set_recv_buffer_size(65536)?;
assert!(s.recv_buffer_size()? >= 65536, "the kernel doubles it");"#)]
            pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
                self.sock.set_recv_buffer_size(size)
            }

            /// `SO_RCVBUF` read back.
            ///
            #[doc = example!($attr, $setup, r#"println!("{} bytes", s.recv_buffer_size()?);"#)]
            pub fn recv_buffer_size(&self) -> io::Result<usize> {
                self.sock.recv_buffer_size()
            }

            /// `SO_SNDBUF`: the send buffer size to ask for.
            ///
            #[doc = example!($attr, $setup, r#"s.set_send_buffer_size(65536)?;
assert!(s.send_buffer_size()? >= 65536, "the kernel doubles it");"#)]
            pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
                self.sock.set_send_buffer_size(size)
            }

            /// `SO_SNDBUF` read back.
            ///
            #[doc = example!($attr, $setup, r#"println!("{} bytes", s.send_buffer_size()?);"#)]
            pub fn send_buffer_size(&self) -> io::Result<usize> {
                self.sock.send_buffer_size()
            }

            /// `SO_ATTACH_FILTER`: this socket receives only what `prog`
            /// accepts, cut to the length it returns.
            ///
            #[doc = example!($attr, $setup, r#"// Only messages whose first byte is 1.
s.attach_filter(&FilterBuilder::new().u8_in(0, [1]).build()?)?;
peer.send(&[2, 0])?;
peer.send(&[1, 0])?;
let mut buf = [0u8; 4];
s.recv(&mut buf)?;
assert_eq!(buf[0], 1, "the first message was filtered out");"#)]
            pub fn attach_filter(&self, prog: &Program) -> io::Result<()> {
                self.sock.attach_filter(prog)
            }

            /// `SO_DETACH_FILTER` (`ENOENT` if none is attached).
            ///
            #[doc = example!($attr, $setup, r#"s.attach_filter(&Program::reject_all())?;
s.detach_filter()?;
peer.send(b"hi")?;
let mut buf = [0u8; 4];
assert_eq!(s.recv(&mut buf)?, 2);"#)]
            pub fn detach_filter(&self) -> io::Result<()> {
                self.sock.detach_filter()
            }
        }
    };
}

/// A datagram socket: unicast to and from any socket of the family, a
/// member of the groups it joins, or the owner of a datagram group.
///
/// Like [`UnixDatagram`](std::os::unix::net::UnixDatagram), with the group
/// calls added. A datagram group's owner ([`create_group`](Self::create_group))
/// is bound at the group's address and is not a member unless it joins;
/// members that join with [`MembershipFlags::SEND_TO_PEER`] send it a copy of
/// their group messages. Closing the owner removes the group.
///
/// ```
/// use mcast_unix::{Addr, McastDatagram};
///
/// # fn main() -> std::io::Result<()> {
/// // Autobound (an abstract name picked by the kernel), on AF_UNIX here.
/// let a = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
/// let b = McastDatagram::unbound_in(libc::AF_UNIX)?;
/// b.send_to(b"ping", &a.local_addr()?)?;
///
/// let mut buf = [0u8; 16];
/// let (n, from) = a.recv_from(&mut buf)?;
/// assert_eq!(&buf[..n], b"ping");
/// assert!(from.is_unnamed(), "b is not bound");
/// # Ok(())
/// # }
/// ```
///
/// A group, with the module loaded:
///
/// ```no_run
/// use mcast_unix::{Addr, McastDatagram, MembershipFlags};
///
/// # fn main() -> std::io::Result<()> {
/// let group = Addr::abstract_("signals")?;
/// let _owner = McastDatagram::create_group(&group)?;
/// let member = McastDatagram::unbound()?;
/// member.join_group(&group, MembershipFlags::DROP_WHEN_FULL)?;
///
/// McastDatagram::unbound()?.send_to(b"NameOwnerChanged", &group)?;
/// let mut buf = [0u8; 64];
/// let n = member.recv(&mut buf)?;
/// # let _ = n;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct McastDatagram {
    sock: Socket,
}

common_methods!(McastDatagram, "", "let (s, peer) = McastDatagram::pair_in(libc::AF_UNIX)?;");
data_methods!(McastDatagram, "", "let (s, peer) = McastDatagram::pair_in(libc::AF_UNIX)?;", "let (s, peer) = McastDatagram::pair()?;");

impl McastDatagram {
    /// An unbound datagram socket of the module's family. It can send
    /// (from the unnamed address), join groups and connect.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = McastDatagram::unbound()?;
    /// s.join_group(&Addr::abstract_("signals")?, MembershipFlags::empty())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn unbound() -> io::Result<McastDatagram> {
        Ok(McastDatagram { sock: Socket::dgram()? })
    }

    /// [`unbound`](Self::unbound) in address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = McastDatagram::unbound_in(libc::AF_UNIX)?;
    /// assert!(s.local_addr()?.is_unnamed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn unbound_in(family: i32) -> io::Result<McastDatagram> {
        Ok(McastDatagram { sock: Socket::dgram_in(family)? })
    }

    /// A datagram socket of the module's family bound to `addr`
    /// ([`Addr::unnamed`]: autobind).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let inbox = McastDatagram::bind(&Addr::abstract_("inbox")?)?;
    /// let mut buf = [0u8; 256];
    /// let (n, from) = inbox.recv_from(&mut buf)?;
    /// println!("{n} bytes from {from}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind(addr: &Addr) -> io::Result<McastDatagram> {
        Self::bind_in(crate::family()?, addr)
    }

    /// [`bind`](Self::bind) in address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// assert!(s.local_addr()?.as_abstract().is_some(), "autobound");
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind_in(family: i32, addr: &Addr) -> io::Result<McastDatagram> {
        let sock = Socket::dgram_in(family)?;
        sock.bind(addr)?;
        Ok(McastDatagram { sock })
    }

    /// `MCAST_UNIX_CREATE_GROUP`: a new datagram socket bound to `group` as
    /// the owner of a datagram group there (`EADDRINUSE` if taken).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("signals")?;
    /// let owner = McastDatagram::create_group(&group)?;
    /// assert_eq!(owner.local_addr()?, group);
    /// assert_eq!(McastDatagram::create_group(&group).unwrap_err().raw_os_error(), Some(libc::EADDRINUSE));
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_group(group: &Addr) -> io::Result<McastDatagram> {
        Self::create_group_in(crate::family()?, group)
    }

    /// [`create_group`](Self::create_group) in address family `family`.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let owner = McastDatagram::create_group_in(family()?, &Addr::abstract_("signals")?)?;
    /// # let _ = owner;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_group_in(family: i32, group: &Addr) -> io::Result<McastDatagram> {
        let sock = Socket::dgram_in(family)?;
        sock.create_group(group)?;
        Ok(McastDatagram { sock })
    }

    /// socketpair(): two datagram sockets of the module's family connected
    /// to each other.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastDatagram::pair()?;
    /// b.set_pass_sender_id(true)?;
    /// a.send(b"ping")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv_msg(&mut buf)?.sender_id, Some(a.id()?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn pair() -> io::Result<(McastDatagram, McastDatagram)> {
        Self::pair_in(crate::family()?)
    }

    /// [`pair`](Self::pair) in address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastDatagram::pair_in(libc::AF_UNIX)?;
    /// a.send(b"ping")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf)?, 4);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pair_in(family: i32) -> io::Result<(McastDatagram, McastDatagram)> {
        let (a, b) = Socket::pair(family, SockType::Dgram)?;
        Ok((McastDatagram { sock: a }, McastDatagram { sock: b }))
    }

    /// connect(): the default destination of [`send`](Self::send), a
    /// socket or a group; only its messages are received from then on
    /// (besides group messages).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = McastDatagram::unbound_in(libc::AF_UNIX)?;
    /// tx.connect(&rx.local_addr()?)?;
    /// tx.send(b"to the default destination")?;
    /// assert_eq!(tx.peer_addr()?, rx.local_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(&self, addr: &Addr) -> io::Result<()> {
        self.sock.connect(addr)
    }

    /// connect() to `AF_UNSPEC`: drops the default destination.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = McastDatagram::unbound_in(libc::AF_UNIX)?;
    /// tx.connect(&rx.local_addr()?)?;
    /// tx.disconnect()?;
    /// assert_eq!(tx.send(b"x").unwrap_err().raw_os_error(), Some(libc::ENOTCONN));
    /// # Ok(())
    /// # }
    /// ```
    pub fn disconnect(&self) -> io::Result<()> {
        self.sock.disconnect()
    }

    /// sendto(): one datagram to `addr`, a socket or a group (every member
    /// gets it).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = McastDatagram::unbound_in(libc::AF_UNIX)?;
    /// assert_eq!(tx.send_to(b"hello", &rx.local_addr()?)?, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: &Addr) -> io::Result<usize> {
        self.sock.send_to(buf, addr)
    }

    /// sendto() with `MSG_*` flags.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = McastDatagram::unbound_in(libc::AF_UNIX)?;
    /// tx.send_to_with_flags(b"now or never", &rx.local_addr()?, libc::MSG_DONTWAIT)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_to_with_flags(&self, buf: &[u8], addr: &Addr, flags: libc::c_int) -> io::Result<usize> {
        self.sock.send_to_with_flags(buf, addr, flags)
    }

    /// sendmsg() to `addr` with credentials and descriptors, as
    /// [`send_msg`](Self::send_msg).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = McastDatagram::unbound_in(libc::AF_UNIX)?;
    /// let file = std::fs::File::open("/dev/null")?;
    /// tx.send_msg_to(b"a file", &rx.local_addr()?, None, &[file.as_fd()])?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.recv_msg(&mut buf)?.fds.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_msg_to(
        &self,
        buf: &[u8],
        addr: &Addr,
        cred: Option<libc::ucred>,
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<usize> {
        self.sock.send_msg(buf, Some(addr), cred, fds, 0)
    }

    /// recvfrom(): one datagram and its sender's address (for a group
    /// message, the original sender's).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// tx.send_to(b"hi", &rx.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.recv_from(&mut buf)?, (2, tx.local_addr()?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        self.sock.recv_from(buf)
    }

    /// Like [`recv_from`](Self::recv_from) but leaves the datagram queued.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// McastDatagram::unbound_in(libc::AF_UNIX)?.send_to(b"hi", &rx.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.peek_from(&mut buf)?.0, 2);
    /// assert_eq!(rx.recv_from(&mut buf)?.0, 2, "still queued after the peek");
    /// # Ok(())
    /// # }
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        self.sock.peek_from(buf)
    }

    /// `MCAST_UNIX_JOIN_GROUP`: become a member of the datagram group at
    /// `group` (`EADDRINUSE` if already one).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("signals")?;
    /// let _owner = McastDatagram::create_group(&group)?;
    /// let member = McastDatagram::unbound()?;
    /// member.join_group(&group, MembershipFlags::LOOPBACK)?;
    /// member.send_to(b"to everyone, me too", &group)?;
    /// let mut buf = [0u8; 32];
    /// assert_eq!(member.recv(&mut buf)?, 19);
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_group(&self, group: &Addr, flags: MembershipFlags) -> io::Result<()> {
        self.sock.join_group(group, flags.bits())
    }

    /// `MCAST_UNIX_LEAVE_GROUP` (`EADDRNOTAVAIL` if not a member).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("signals")?;
    /// let _owner = McastDatagram::create_group(&group)?;
    /// let member = McastDatagram::unbound()?;
    /// member.join_group(&group, MembershipFlags::empty())?;
    /// member.leave_group(&group)?;
    /// assert_eq!(member.leave_group(&group).unwrap_err().raw_os_error(), Some(libc::EADDRNOTAVAIL));
    /// # Ok(())
    /// # }
    /// ```
    pub fn leave_group(&self, group: &Addr) -> io::Result<()> {
        self.sock.leave_group(group)
    }
}

/// A listening seqpacket socket: [`accept`](Self::accept) gives a
/// [`McastSeqpacket`] per client.
///
/// Like [`UnixListener`](std::os::unix::net::UnixListener). For a seqpacket
/// group, whose owner admits the clients it accepts, see
/// [`McastGroupListener`].
///
/// ```
/// use mcast_unix::{Addr, McastListener, McastSeqpacket};
///
/// # fn main() -> std::io::Result<()> {
/// let listener = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
/// let client = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
/// let (conn, _) = listener.accept()?;
///
/// client.send(b"one message")?;
/// let mut buf = [0u8; 32];
/// assert_eq!(conn.recv(&mut buf)?, 11);
/// assert_eq!(conn.peer_cred()?.pid as u32, std::process::id());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct McastListener {
    sock: Socket,
}

common_methods!(McastListener, "", "let s = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;");

impl McastListener {
    /// A seqpacket socket of the module's family bound to `addr` and
    /// listening (backlog `SOMAXCONN`).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let listener = McastListener::bind(&Addr::abstract_("service")?)?;
    /// for conn in listener.incoming() {
    ///     let conn = conn?;
    ///     conn.send(b"welcome")?;
    /// #   break;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind(addr: &Addr) -> io::Result<McastListener> {
        Self::bind_in(crate::family()?, addr)
    }

    /// [`bind`](Self::bind) in address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let listener = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let _client = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
    /// let (_conn, _) = listener.accept()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind_in(family: i32, addr: &Addr) -> io::Result<McastListener> {
        let sock = Socket::seqpacket_in(family)?;
        sock.bind(addr)?;
        sock.listen(libc::SOMAXCONN)?;
        Ok(McastListener { sock })
    }

    /// accept(): the next client's connection (close-on-exec) and its
    /// address.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let listener = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let client = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
    /// let (conn, from) = listener.accept()?;
    /// assert!(from.is_unnamed(), "the client is not bound");
    /// client.send(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(conn.recv(&mut buf)?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn accept(&self) -> io::Result<(McastSeqpacket, Addr)> {
        let (sock, addr) = self.sock.accept()?;
        Ok((McastSeqpacket { sock }, addr))
    }

    /// The connections as they arrive: [`accept`](Self::accept) in a
    /// loop, without the addresses. The iterator never ends.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let listener = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let _client = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
    /// for conn in listener.incoming().take(1) {
    ///     conn?.send(b"welcome")?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<'_, McastListener> {
        Incoming { listener: self }
    }
}

/// The owner of a seqpacket group, listening: it accepts each client's
/// connection as a [`McastAccepted`], checks it, and admits it as a member.
///
/// Dropping it removes the group. Before admission a connection is plain
/// unicast between client and owner; once admitted, what the member sends
/// goes to every admitted member, and what the owner sends on the
/// [`McastAccepted`] stays unicast to that member.
///
/// ```no_run
/// use mcast_unix::{Addr, FilterBuilder, McastGroupListener, McastSeqpacket, MembershipFlags};
///
/// # fn main() -> std::io::Result<()> {
/// let group = Addr::abstract_("room")?;
/// let owner = McastGroupListener::create(&group)?;
///
/// let client = McastSeqpacket::connect(&group)?;
/// let (conn, _) = owner.accept()?;
/// if conn.peer_cred()?.uid == 1000 {
///     // The member only gets messages whose first byte is 1 or 2.
///     conn.set_peer_filter(&FilterBuilder::new().u8_in(0, [1, 2]).build()?)?;
///     conn.admit_member(MembershipFlags::LOOPBACK | MembershipFlags::SEND_TO_PEER)?;
/// }
/// client.send(&[1, 0, 0, 0])?; // to every member, a copy to `conn`
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct McastGroupListener {
    sock: Socket,
}

common_methods!(McastGroupListener, "no_run", "let s = McastGroupListener::create(&Addr::abstract_(\"room\")?)?;");

impl McastGroupListener {
    /// `MCAST_UNIX_CREATE_GROUP` then listen(): a new seqpacket socket of
    /// the module's family owning a seqpacket group at `group` (backlog
    /// `SOMAXCONN`).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let owner = McastGroupListener::create(&Addr::abstract_("room")?)?;
    /// for conn in owner.incoming() {
    ///     let conn = conn?;
    ///     conn.admit_member(MembershipFlags::empty())?;
    /// #   break;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(group: &Addr) -> io::Result<McastGroupListener> {
        Self::create_in(crate::family()?, group)
    }

    /// [`create`](Self::create) in address family `family`.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let owner = McastGroupListener::create_in(family()?, &Addr::abstract_("room")?)?;
    /// # let _ = owner;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_in(family: i32, group: &Addr) -> io::Result<McastGroupListener> {
        let sock = Socket::seqpacket_in(family)?;
        sock.create_group(group)?;
        sock.listen(libc::SOMAXCONN)?;
        Ok(McastGroupListener { sock })
    }

    /// accept(): the next client's connection (not yet a member) and its
    /// address.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = McastGroupListener::create(&group)?;
    /// let client = McastSeqpacket::connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// assert_eq!(conn.peer_id()?, client.id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn accept(&self) -> io::Result<(McastAccepted, Addr)> {
        let (sock, addr) = self.sock.accept()?;
        Ok((McastAccepted { sock }, addr))
    }

    /// The clients' connections as they arrive: [`accept`](Self::accept)
    /// in a loop, without the addresses. The iterator never ends.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let owner = McastGroupListener::create(&Addr::abstract_("room")?)?;
    /// let mut members = Vec::new();
    /// for conn in owner.incoming().take(3) {
    ///     let conn = conn?;
    ///     conn.admit_member(MembershipFlags::SEND_TO_PEER)?;
    ///     members.push(conn);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<'_, McastGroupListener> {
        Incoming { listener: self }
    }
}

/// The iterator of [`McastListener::incoming`] (items [`McastSeqpacket`])
/// and [`McastGroupListener::incoming`] (items [`McastAccepted`]).
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let listener = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
/// let _a = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
/// let _b = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
/// let conns: Vec<McastSeqpacket> = listener.incoming().take(2).collect::<std::io::Result<_>>()?;
/// assert_eq!(conns.len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Incoming<'a, L> {
    listener: &'a L,
}

impl Iterator for Incoming<'_, McastListener> {
    type Item = io::Result<McastSeqpacket>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(conn, _)| conn))
    }
}

impl Iterator for Incoming<'_, McastGroupListener> {
    type Item = io::Result<McastAccepted>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(conn, _)| conn))
    }
}

/// A seqpacket connection: a client of a [`McastListener`] or of a
/// [`McastGroupListener`] (a member of that group once the owner admits
/// it), a connection a [`McastListener`] accepted, or one end of a
/// [`pair`](Self::pair).
///
/// Like [`UnixStream`](std::os::unix::net::UnixStream), but messages keep
/// their boundaries: each [`recv`](Self::recv) returns one message.
///
/// ```
/// use mcast_unix::McastSeqpacket;
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = McastSeqpacket::pair_in(libc::AF_UNIX)?;
/// a.send(b"first")?;
/// a.send(b"second")?;
/// let mut buf = [0u8; 16];
/// assert_eq!(b.recv(&mut buf)?, 5);
/// assert_eq!(b.recv(&mut buf)?, 6);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct McastSeqpacket {
    sock: Socket,
}

common_methods!(McastSeqpacket, "", "let (s, peer) = McastSeqpacket::pair_in(libc::AF_UNIX)?;");
data_methods!(McastSeqpacket, "", "let (s, peer) = McastSeqpacket::pair_in(libc::AF_UNIX)?;", "let (s, peer) = McastSeqpacket::pair()?;");

impl McastSeqpacket {
    /// A seqpacket socket of the module's family connected to the listener
    /// (or seqpacket group) at `addr`.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let member = McastSeqpacket::connect(&Addr::abstract_("room")?)?;
    /// // Once the owner admits it, what it sends goes to the whole group.
    /// member.send(b"hello room")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(addr: &Addr) -> io::Result<McastSeqpacket> {
        Self::connect_in(crate::family()?, addr)
    }

    /// [`connect`](Self::connect) in address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let listener = McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let client = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.local_addr()?)?;
    /// assert_eq!(client.peer_addr()?, listener.local_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_in(family: i32, addr: &Addr) -> io::Result<McastSeqpacket> {
        let sock = Socket::seqpacket_in(family)?;
        sock.connect(addr)?;
        Ok(McastSeqpacket { sock })
    }

    /// socketpair(): two seqpacket sockets of the module's family connected
    /// to each other.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastSeqpacket::pair()?;
    /// assert_eq!(a.peer_id()?, b.id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pair() -> io::Result<(McastSeqpacket, McastSeqpacket)> {
        Self::pair_in(crate::family()?)
    }

    /// [`pair`](Self::pair) in address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastSeqpacket::pair_in(libc::AF_UNIX)?;
    /// a.send(b"one")?;
    /// a.send(b"two")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!((b.recv(&mut buf)?, b.recv(&mut buf)?), (3, 3));
    /// # Ok(())
    /// # }
    /// ```
    pub fn pair_in(family: i32) -> io::Result<(McastSeqpacket, McastSeqpacket)> {
        let (a, b) = Socket::pair(family, SockType::Seqpacket)?;
        Ok((McastSeqpacket { sock: a }, McastSeqpacket { sock: b }))
    }

    /// `MCAST_UNIX_PEER_ID`: the connected peer's id.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let member = McastSeqpacket::connect(&Addr::abstract_("room")?)?;
    /// // The id of the owner's end of the connection.
    /// println!("owner's socket {}", member.peer_id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_id(&self) -> io::Result<u64> {
        self.sock.peer_id()
    }
}

/// The owner's end of a client's connection to a seqpacket group, from
/// [`McastGroupListener::accept`]: the owner checks the client
/// ([`peer_cred`](Self::peer_cred)) and [`admit_member`](Self::admit_member)s
/// it, optionally limiting what it receives with
/// [`set_peer_filter`](Self::set_peer_filter).
///
/// Dropping it ends the membership. See [`McastGroupListener`] for an
/// example.
///
/// ```no_run
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let group = Addr::abstract_("room")?;
/// let owner = McastGroupListener::create(&group)?;
/// let client = McastSeqpacket::connect(&group)?;
/// let (conn, _) = owner.accept()?;
/// if conn.peer_cred()?.uid == 0 {
///     conn.admit_member(MembershipFlags::SEND_TO_PEER)?;
/// }
/// client.send(b"hi all")?;
/// let mut buf = [0u8; 16];
/// assert_eq!(conn.recv(&mut buf)?, 6, "the owner's copy (SEND_TO_PEER)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct McastAccepted {
    sock: Socket,
}

common_methods!(McastAccepted, "no_run", "let owner = McastGroupListener::create(&Addr::abstract_(\"room\")?)?;\nlet peer = McastSeqpacket::connect(&owner.local_addr()?)?;\nlet (s, _) = owner.accept()?;");
data_methods!(McastAccepted, "no_run", "let owner = McastGroupListener::create(&Addr::abstract_(\"room\")?)?;\nlet peer = McastSeqpacket::connect(&owner.local_addr()?)?;\nlet (s, _) = owner.accept()?;", "let owner = McastGroupListener::create(&Addr::abstract_(\"room\")?)?;\nlet peer = McastSeqpacket::connect(&owner.local_addr()?)?;\nlet (s, _) = owner.accept()?;");

impl McastAccepted {
    /// `MCAST_UNIX_ADMIT_MEMBER`: the client becomes a member with `flags`
    /// (`EALREADY` if it is one; `ECONNRESET` if it has closed).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = McastGroupListener::create(&group)?;
    /// let _client = McastSeqpacket::connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// conn.admit_member(MembershipFlags::LOOPBACK)?;
    /// assert_eq!(conn.admit_member(MembershipFlags::LOOPBACK).unwrap_err().raw_os_error(), Some(libc::EALREADY));
    /// # Ok(())
    /// # }
    /// ```
    pub fn admit_member(&self, flags: MembershipFlags) -> io::Result<()> {
        self.sock.admit_member(flags.bits())
    }

    /// `MCAST_UNIX_PEER_FILTER`: the member receives only the group
    /// messages `prog` accepts (and its own filter too). The kernel checks
    /// the program (`EINVAL`).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = McastGroupListener::create(&group)?;
    /// let _client = McastSeqpacket::connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// // The member gets only the group messages of the topics it asked for.
    /// conn.set_peer_filter(&FilterBuilder::new().topic_in(0, ByteOrder::Native, ["weather"]).build()?)?;
    /// conn.admit_member(MembershipFlags::empty())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_peer_filter(&self, prog: &Program) -> io::Result<()> {
        self.sock.set_peer_filter(prog)
    }

    /// Removes the peer filter.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = McastGroupListener::create(&group)?;
    /// let _client = McastSeqpacket::connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// conn.set_peer_filter(&Program::reject_all())?;
    /// conn.clear_peer_filter()?; // the member gets every group message again
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_peer_filter(&self) -> io::Result<()> {
        self.sock.clear_peer_filter()
    }

    /// `MCAST_UNIX_PEER_ID`: the client's id, the one its messages carry
    /// as their sender id (what a bus maps to the client's names).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = McastGroupListener::create(&group)?;
    /// let client = McastSeqpacket::connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// // What the client's messages carry as their sender id.
    /// assert_eq!(conn.peer_id()?, client.id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_id(&self) -> io::Result<u64> {
        self.sock.peer_id()
    }
}

#[cfg(test)]
mod tests {
    //! On `AF_UNIX`; the group calls need the module, so here they only
    //! show that they reach the kernel.

    use super::*;
    use crate::testutil::unique_addr as unique;

    const UNIX: i32 = libc::AF_UNIX;

    #[test]
    fn datagram_bind_connect_send_recv() {
        let (an, bn) = (unique("ta"), unique("tb"));
        let a = McastDatagram::bind_in(UNIX, &an).unwrap();
        let b = McastDatagram::bind_in(UNIX, &bn).unwrap();
        assert_eq!(a.local_addr().unwrap(), an);
        a.send_to(b"hi", &bn).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.peek_from(&mut buf).unwrap(), (2, an.clone()));
        assert_eq!(b.recv_from(&mut buf).unwrap(), (2, an.clone()));
        b.connect(&an).unwrap();
        assert_eq!(b.peer_addr().unwrap(), an);
        b.send(b"back").unwrap();
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
        b.disconnect().unwrap();
        assert_eq!(b.send(b"x").unwrap_err().raw_os_error(), Some(libc::ENOTCONN));
    }

    #[test]
    fn datagram_group_calls_reach_the_kernel() {
        let g = unique("tgroup");
        assert!(McastDatagram::create_group_in(UNIX, &g).is_err());
        let s = McastDatagram::unbound_in(UNIX).unwrap();
        assert!(s.join_group(&g, MembershipFlags::LOOPBACK).is_err());
        assert!(s.leave_group(&g).is_err());
        assert!(McastGroupListener::create_in(UNIX, &g).is_err());
    }

    #[test]
    fn listener_accepts_seqpacket_connections() {
        let name = unique("tlisten");
        let l = McastListener::bind_in(UNIX, &name).unwrap();
        let c = McastSeqpacket::connect_in(UNIX, &name).unwrap();
        let (conn, _) = l.accept().unwrap();
        assert_eq!(conn.local_addr().unwrap(), name);
        assert_eq!(conn.peer_cred().unwrap().uid, c.peer_cred().unwrap().uid);
        c.send(b"one").unwrap();
        c.send(b"three").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(conn.recv(&mut buf).unwrap(), 3);
        assert_eq!(conn.recv(&mut buf).unwrap(), 5, "message boundaries kept");
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(conn.recv(&mut buf).unwrap(), 0);

        let _c2 = McastSeqpacket::connect_in(UNIX, &name).unwrap();
        let conn2 = l.incoming().next().unwrap().unwrap();
        assert_eq!(conn2.peer_cred().unwrap().pid as u32, std::process::id());
    }

    #[test]
    fn listener_timeout_and_nonblocking_accept() {
        let l = McastListener::bind_in(UNIX, &Addr::unnamed()).unwrap();
        l.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        assert_eq!(l.read_timeout().unwrap(), Some(Duration::from_millis(20)));
        assert_eq!(l.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        l.set_read_timeout(None).unwrap();
        l.set_nonblocking(true).unwrap();
        assert_eq!(l.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn recv_msg_carries_credentials_and_descriptors() {
        let (a, b) = McastSeqpacket::pair_in(UNIX).unwrap();
        b.set_passcred(true).unwrap();
        assert!(b.passcred().unwrap());
        let passed = McastDatagram::bind_in(UNIX, &Addr::unnamed()).unwrap();
        a.send_with_fds(b"fd", &[passed.as_fd()]).unwrap();
        let mut buf = [0u8; 8];
        let meta = b.recv_msg(&mut buf).unwrap();
        assert_eq!(meta.len, 2);
        assert_eq!(meta.cred.unwrap().pid as u32, std::process::id());
        assert_eq!(meta.fds.len(), 1);
        let got = McastDatagram::from_socket_for_test(meta.fds.into_iter().next().unwrap());
        assert_eq!(got.local_addr().unwrap(), passed.local_addr().unwrap(), "the same socket");
        assert_eq!(got.id().unwrap(), passed.id().unwrap());

        // SAFETY: plain system calls without arguments.
        let me = unsafe { libc::ucred { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() } };
        a.send_msg(b"cred", Some(me), &[]).unwrap();
        let meta = b.recv_msg_with_flags(&mut buf[..2], 0).unwrap();
        assert_eq!(meta.flags & libc::MSG_TRUNC, libc::MSG_TRUNC);
        assert_eq!(meta.cred.unwrap().gid, me.gid);
        assert!(meta.fds.is_empty());
    }

    #[test]
    fn datagram_send_msg_to_and_drop_counter_option() {
        let rx = McastDatagram::bind_in(UNIX, &unique("tmsg")).unwrap();
        rx.set_recv_overflow(true).unwrap();
        let tx = McastDatagram::unbound_in(UNIX).unwrap();
        let (r, _w) = McastSeqpacket::pair_in(UNIX).unwrap();
        tx.send_msg_to(b"x", &rx.local_addr().unwrap(), None, &[r.as_fd()]).unwrap();
        let mut buf = [0u8; 4];
        let meta = rx.recv_msg(&mut buf).unwrap();
        assert_eq!((meta.len, meta.fds.len()), (1, 1));
        assert!(meta.from.is_unnamed());
        assert_eq!(meta.dropped, None, "AF_UNIX reports no drop counter");
    }

    #[test]
    fn try_clone_conversions_and_timeouts() {
        let (a, b) = McastDatagram::pair_in(UNIX).unwrap();
        let b2 = b.try_clone().unwrap();
        assert_eq!(b2.id().unwrap(), b.id().unwrap());
        assert_eq!(b2.family(), UNIX);
        a.send(b"z").unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(b2.recv(&mut buf).unwrap(), 1);
        b.set_write_timeout(Some(Duration::from_millis(40))).unwrap();
        assert_eq!(b2.write_timeout().unwrap(), Some(Duration::from_millis(40)), "shared options");
        assert!(b.take_error().unwrap().is_none());
        let raw = b.as_raw_fd();
        let fd: OwnedFd = b.into();
        assert_eq!(fd.as_raw_fd(), raw);
        let sock: Socket = b2.into();
        assert_eq!(sock.family(), UNIX);
    }

    #[test]
    fn accepted_has_the_owner_calls() {
        // AF_UNIX stands in for the family: the connection is accepted as
        // an owner's would be, and the kernel refuses the group options.
        let l = Socket::seqpacket_in(UNIX).unwrap();
        l.bind(&Addr::unnamed()).unwrap();
        l.listen(4).unwrap();
        let c = McastSeqpacket::connect_in(UNIX, &l.local_addr().unwrap()).unwrap();
        let conn = McastAccepted { sock: l.accept().unwrap().0 };
        assert!(conn.admit_member(MembershipFlags::all()).is_err());
        assert!(conn.set_peer_filter(&Program::accept_all()).is_err());
        assert!(conn.clear_peer_filter().is_err());
        assert!(conn.peer_id().is_err(), "no SOL_MCAST_UNIX on AF_UNIX");
        c.send(b"hello").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(conn.recv(&mut buf).unwrap(), 5);
        conn.send(b"ok").unwrap();
        assert_eq!(c.recv(&mut buf).unwrap(), 2);
    }

    impl McastDatagram {
        fn from_socket_for_test(fd: OwnedFd) -> McastDatagram {
            McastDatagram { sock: Socket::from_fd(fd, UNIX).unwrap() }
        }
    }
}
