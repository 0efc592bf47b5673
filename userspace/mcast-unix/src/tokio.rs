//! Async sockets on tokio (cargo feature `tokio`).
//!
//! [`Async<T>`] registers a typed socket with tokio's reactor through
//! [`AsyncFd`] and makes it nonblocking; its `async` methods try the call
//! and, on `EAGAIN`, wait until the socket is readable (or writable) and try
//! again. Each is the blocking method of the same name on `T`, awaited:
//!
//! | wrapper | async calls |
//! |---|---|
//! | [`AsyncDatagram`] | `send`, `send_to`, `send_msg`, `send_msg_to`, `send_with_fds`, `recv`, `recv_from`, `recv_msg`, `peek`, `peek_from` |
//! | [`AsyncSeqpacket`], [`AsyncAccepted`] | `send`, `send_msg`, `send_with_fds`, `recv`, `recv_msg`, `peek` |
//! | [`AsyncListener`] | `accept` → [`AsyncSeqpacket`] |
//! | [`AsyncGroupListener`] | `accept` → [`AsyncAccepted`] |
//!
//! Every other call (options, [`admit_member`](McastAccepted::admit_member),
//! [`join_group`](McastDatagram::join_group), …) is on
//! [`get_ref`](Async::get_ref); [`read_with`](Async::read_with) and
//! [`write_with`](Async::write_with) turn any nonblocking call into an
//! async one. A group send that meets a full member (without
//! [`DROP_WHEN_FULL`](crate::MembershipFlags::DROP_WHEN_FULL)) waits for
//! writability like a unicast send.
//!
//! [`Async::new`] must run inside a tokio runtime with I/O enabled. The
//! feature turns on tokio's `net` and `rt` features.
//!
//! ```
//! use mcast_unix::tokio::AsyncDatagram;
//! use mcast_unix::{Addr, McastDatagram};
//!
//! # fn main() -> std::io::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
//! rt.block_on(async {
//!     // AF_UNIX here; McastDatagram::bind(…) for the module's family.
//!     let rx = AsyncDatagram::new(McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?)?;
//!     let tx = AsyncDatagram::new(McastDatagram::unbound_in(libc::AF_UNIX)?)?;
//!     tx.send_to(b"ping", &rx.get_ref().local_addr()?).await?;
//!
//!     let mut buf = [0u8; 16];
//!     let (n, _from) = rx.recv_from(&mut buf).await?;
//!     assert_eq!(&buf[..n], b"ping");
//!     Ok(())
//! })
//! # }
//! ```

use crate::addr::Addr;
use crate::socket::{RecvMeta, Socket};
use crate::typed::{McastAccepted, McastDatagram, McastGroupListener, McastListener, McastSeqpacket};
use ::tokio::io::unix::AsyncFd;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A socket registered with tokio's reactor: `T` is one of the typed
/// sockets (or the untyped [`Socket`], for
/// [`read_with`](Async::read_with)/[`write_with`](Async::write_with)).
///
/// ```
/// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
/// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
/// # use std::os::fd::AsFd;
/// # fn main() -> std::io::Result<()> {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// # rt.block_on(async {
/// let (a, b) = McastSeqpacket::pair_in(libc::AF_UNIX)?;
/// let (a, b): (Async<McastSeqpacket>, AsyncSeqpacket) = (Async::new(a)?, Async::new(b)?);
/// a.send(b"ping").await?;
/// let mut buf = [0u8; 8];
/// assert_eq!(b.recv(&mut buf).await?, 4);
/// # Ok::<(), std::io::Error>(())
/// # })
/// # }
/// ```
#[derive(Debug)]
pub struct Async<T: AsyncSocket> {
    fd: AsyncFd<T>,
}

mod private {
    pub trait Sealed {}
}

/// The sockets [`Async`] can wrap: the typed sockets and [`Socket`]. Each
/// owns its descriptor for its whole life, which is what [`AsyncFd`]
/// needs; the trait is sealed so no other type can claim that.
///
/// ```
/// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
/// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
/// # use std::os::fd::AsFd;
/// # fn main() -> std::io::Result<()> {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// # rt.block_on(async {
/// // Generic code over every socket Async can wrap.
/// fn register<T: AsyncSocket>(sock: T) -> std::io::Result<Async<T>> {
///     Async::new(sock)
/// }
/// let listener = register(McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?)?;
/// let raw = register(Socket::dgram_in(libc::AF_UNIX)?)?;
/// # let _ = (listener, raw);
/// # Ok::<(), std::io::Error>(())
/// # })
/// # }
/// ```
pub trait AsyncSocket: private::Sealed + AsRawFd + AsFd {}

macro_rules! async_socket {
    ($($ty:ident),*) => {
        $(
            impl private::Sealed for $ty {}
            impl AsyncSocket for $ty {}
        )*
    };
}

async_socket!(McastDatagram, McastListener, McastGroupListener, McastSeqpacket, McastAccepted, Socket);

/// An async [`McastDatagram`].
pub type AsyncDatagram = Async<McastDatagram>;
/// An async [`McastListener`].
pub type AsyncListener = Async<McastListener>;
/// An async [`McastGroupListener`].
pub type AsyncGroupListener = Async<McastGroupListener>;
/// An async [`McastSeqpacket`].
pub type AsyncSeqpacket = Async<McastSeqpacket>;
/// An async [`McastAccepted`].
pub type AsyncAccepted = Async<McastAccepted>;

impl<T: AsyncSocket> Async<T> {
    /// Sets `O_NONBLOCK` on `sock` and registers it with the current
    /// runtime's reactor. Panics outside a tokio runtime with I/O enabled.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let rx = AsyncDatagram::new(McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?)?;
    /// let mut buf = [0u8; 8];
    /// // Now nonblocking underneath: the blocking call returns at once.
    /// assert_eq!(rx.get_ref().recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub fn new(sock: T) -> io::Result<Async<T>> {
        let mut on: libc::c_int = 1;
        // SAFETY: `sock` owns the open descriptor for this call;
        // FIONBIO reads one int from the valid pointer.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONBIO, &mut on) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: an `AsyncSocket` owns an open descriptor (an `OwnedFd`
        // that is never replaced) and `as_raw_fd` always returns it, until
        // the socket is dropped or taken back by `into_inner`.
        let fd = unsafe { AsyncFd::register(sock) }?;
        Ok(Async { fd })
    }

    /// The socket, for its other calls (do not make it blocking again).
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = McastSeqpacket::pair_in(libc::AF_UNIX)?;
    /// let (a, b) = (AsyncSeqpacket::new(a)?, AsyncSeqpacket::new(b)?);
    /// // Options and other calls are on the socket itself.
    /// b.get_ref().set_passcred(true)?;
    /// a.send(b"hi").await?;
    /// let mut buf = [0u8; 8];
    /// assert!(b.recv_msg(&mut buf).await?.cred.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub fn get_ref(&self) -> &T {
        self.fd.get_ref()
    }

    /// Deregisters the socket and gives it back (still nonblocking).
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let s = AsyncDatagram::new(McastDatagram::unbound_in(libc::AF_UNIX)?)?;
    /// let s: McastDatagram = s.into_inner();
    /// s.set_nonblocking(false)?; // blocking again, if wanted
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub fn into_inner(self) -> T {
        self.fd.into_inner()
    }

    /// Runs the nonblocking call `op` until it does not give
    /// [`io::ErrorKind::WouldBlock`], waiting for readability in between.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = McastDatagram::pair_in(libc::AF_UNIX)?;
    /// let b = AsyncDatagram::new(b)?;
    /// a.send(b"longer than the buffer")?;
    /// let mut buf = [0u8; 4];
    /// // Any nonblocking call, awaited: here recv() with MSG_TRUNC.
    /// let n = b.read_with(|s| s.recv_with_flags(&mut buf, libc::MSG_TRUNC)).await?;
    /// assert_eq!(n, 22);
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        loop {
            let mut guard = self.fd.readable().await?;
            if let Ok(result) = guard.try_io(|fd| op(fd.get_ref())) {
                return result;
            }
        }
    }

    /// Runs the nonblocking call `op` until it does not give
    /// [`io::ErrorKind::WouldBlock`], waiting for writability in between.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let (a, b) = McastSeqpacket::pair_in(libc::AF_UNIX)?;
    /// let a = AsyncSeqpacket::new(a)?;
    /// a.write_with(|s| s.send_with_flags(b"eor", libc::MSG_EOR)).await?;
    /// let mut buf = [0u8; 4];
    /// assert_eq!(b.recv(&mut buf)?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        loop {
            let mut guard = self.fd.writable().await?;
            if let Ok(result) = guard.try_io(|fd| op(fd.get_ref())) {
                return result;
            }
        }
    }
}

impl<T: AsyncSocket> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.get_ref().as_raw_fd()
    }
}

impl<T: AsyncSocket> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

/// A doc example of an async call the macro below writes for several
/// types: `$setup` (each type's own) makes the registered socket `s` and its
/// connected `peer`, inside a current-thread runtime; `$attr` is `""` or
/// `"no_run"`.
macro_rules! example {
    ($attr:literal, $setup:literal, $body:literal) => {
        concat!(
            "```", $attr, "\n",
            "# use mcast_unix::tokio::{AsyncAccepted, AsyncDatagram, AsyncSeqpacket};\n",
            "# use mcast_unix::{Addr, McastDatagram, McastGroupListener, McastSeqpacket};\n",
            "# use std::os::fd::AsFd;\n",
            "# fn main() -> std::io::Result<()> {\n",
            "# let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;\n",
            "# rt.block_on(async {\n",
            $setup, "\n",
            $body, "\n",
            "# Ok::<(), std::io::Error>(())\n",
            "# })\n",
            "# }\n",
            "```",
        )
    };
}

/// The async calls of the sockets that carry messages; the examples start
/// with `$setup`.
macro_rules! async_data_methods {
    ($ty:ident, $attr:literal, $setup:literal) => {
        impl Async<$ty> {
            #[doc = concat!("[`", stringify!($ty), "::send`], awaited.")]
            #[doc = ""]
            #[doc = example!($attr, $setup, r#"s.send(b"hello").await?;
let mut buf = [0u8; 16];
assert_eq!(peer.recv(&mut buf).await?, 5);"#)]
            pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
                self.write_with(|s| s.send(buf)).await
            }

            #[doc = concat!("[`", stringify!($ty), "::send_msg`], awaited.")]
            #[doc = ""]
            #[doc = example!($attr, $setup, r#"let file = std::fs::File::open("/dev/null")?;
s.send_msg(b"a file", None, &[file.as_fd()]).await?;
let mut buf = [0u8; 16];
assert_eq!(peer.recv_msg(&mut buf).await?.fds.len(), 1);"#)]
            pub async fn send_msg(
                &self,
                buf: &[u8],
                cred: Option<libc::ucred>,
                fds: &[BorrowedFd<'_>],
            ) -> io::Result<usize> {
                self.write_with(|s| s.send_msg(buf, cred, fds)).await
            }

            #[doc = concat!("[`", stringify!($ty), "::send_with_fds`], awaited.")]
            #[doc = ""]
            #[doc = example!($attr, $setup, r#"let file = std::fs::File::open("/dev/null")?;
s.send_with_fds(b"a file", &[file.as_fd()]).await?;
let mut buf = [0u8; 16];
let passed: std::fs::File = peer.recv_msg(&mut buf).await?.fds.remove(0).into();
# let _ = passed;"#)]
            pub async fn send_with_fds(&self, buf: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
                self.write_with(|s| s.send_with_fds(buf, fds)).await
            }

            #[doc = concat!("[`", stringify!($ty), "::recv`], awaited.")]
            #[doc = ""]
            #[doc = example!($attr, $setup, r#"peer.send(b"hi").await?;
let mut buf = [0u8; 16];
let n = s.recv(&mut buf).await?;
assert_eq!(&buf[..n], b"hi");"#)]
            pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.read_with(|s| s.recv(buf)).await
            }

            #[doc = concat!("[`", stringify!($ty), "::peek`], awaited.")]
            #[doc = ""]
            #[doc = example!($attr, $setup, r#"peer.send(b"hi").await?;
let mut buf = [0u8; 16];
assert_eq!(s.peek(&mut buf).await?, 2);
assert_eq!(s.recv(&mut buf).await?, 2, "still queued after the peek");"#)]
            pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.read_with(|s| s.peek(buf)).await
            }

            #[doc = concat!("[`", stringify!($ty), "::recv_msg`], awaited: the data with credentials, drop count, sender id and descriptors.")]
            #[doc = ""]
            #[doc = example!($attr, $setup, r#"s.get_ref().set_passcred(true)?;
peer.send(b"hi").await?;
let mut buf = [0u8; 16];
let meta = s.recv_msg(&mut buf).await?;
assert_eq!(&buf[..meta.len], b"hi");
assert_eq!(meta.cred.map(|c| c.pid as u32), Some(std::process::id()));"#)]
            pub async fn recv_msg(&self, buf: &mut [u8]) -> io::Result<RecvMeta> {
                self.read_with(|s| s.recv_msg(buf)).await
            }
        }
    };
}

async_data_methods!(McastDatagram, "", "let (s, peer) = McastDatagram::pair_in(libc::AF_UNIX)?;\nlet (s, peer) = (AsyncDatagram::new(s)?, AsyncDatagram::new(peer)?);");
async_data_methods!(McastSeqpacket, "", "let (s, peer) = McastSeqpacket::pair_in(libc::AF_UNIX)?;\nlet (s, peer) = (AsyncSeqpacket::new(s)?, AsyncSeqpacket::new(peer)?);");
async_data_methods!(McastAccepted, "no_run", "let owner = McastGroupListener::create(&Addr::abstract_(\"room\")?)?;\nlet peer = AsyncSeqpacket::new(McastSeqpacket::connect(&owner.local_addr()?)?)?;\nlet s = AsyncAccepted::new(owner.accept()?.0)?;");

impl Async<McastDatagram> {
    /// [`McastDatagram::send_to`], awaited.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = AsyncDatagram::new(McastDatagram::unbound_in(libc::AF_UNIX)?)?;
    /// assert_eq!(tx.send_to(b"hello", &rx.local_addr()?).await?, 5);
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn send_to(&self, buf: &[u8], addr: &Addr) -> io::Result<usize> {
        self.write_with(|s| s.send_to(buf, addr)).await
    }

    /// [`McastDatagram::send_msg_to`], awaited.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let rx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// let tx = AsyncDatagram::new(McastDatagram::unbound_in(libc::AF_UNIX)?)?;
    /// let file = std::fs::File::open("/dev/null")?;
    /// tx.send_msg_to(b"a file", &rx.local_addr()?, None, &[file.as_fd()]).await?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.recv_msg(&mut buf)?.fds.len(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn send_msg_to(
        &self,
        buf: &[u8],
        addr: &Addr,
        cred: Option<libc::ucred>,
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<usize> {
        self.write_with(|s| s.send_msg_to(buf, addr, cred, fds)).await
    }

    /// [`McastDatagram::recv_from`], awaited.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let rx = AsyncDatagram::new(McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?)?;
    /// let tx = McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?;
    /// tx.send_to(b"hi", &rx.get_ref().local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.recv_from(&mut buf).await?, (2, tx.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        self.read_with(|s| s.recv_from(buf)).await
    }

    /// [`McastDatagram::peek_from`], awaited.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let rx = AsyncDatagram::new(McastDatagram::bind_in(libc::AF_UNIX, &Addr::unnamed())?)?;
    /// McastDatagram::unbound_in(libc::AF_UNIX)?.send_to(b"hi", &rx.get_ref().local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.peek_from(&mut buf).await?.0, 2);
    /// assert_eq!(rx.recv_from(&mut buf).await?.0, 2, "still queued after the peek");
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        self.read_with(|s| s.peek_from(buf)).await
    }
}

impl Async<McastListener> {
    /// [`McastListener::accept`], awaited; the connection is registered
    /// too.
    ///
    /// ```
    /// # use mcast_unix::tokio::{Async, AsyncDatagram, AsyncListener, AsyncSeqpacket, AsyncSocket};
    /// # use mcast_unix::{Addr, McastDatagram, McastListener, McastSeqpacket, Socket};
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// # rt.block_on(async {
    /// let listener = AsyncListener::new(McastListener::bind_in(libc::AF_UNIX, &Addr::unnamed())?)?;
    /// let client = McastSeqpacket::connect_in(libc::AF_UNIX, &listener.get_ref().local_addr()?)?;
    /// let (conn, _) = listener.accept().await?;
    /// client.send(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(conn.recv(&mut buf).await?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// # })
    /// # }
    /// ```
    pub async fn accept(&self) -> io::Result<(AsyncSeqpacket, Addr)> {
        let (conn, addr) = self.read_with(|l| l.accept()).await?;
        Ok((Async::new(conn)?, addr))
    }
}

impl Async<McastGroupListener> {
    /// [`McastGroupListener::accept`], awaited; the connection is
    /// registered too.
    ///
    /// ```no_run
    /// use mcast_unix::tokio::AsyncGroupListener;
    /// use mcast_unix::{Addr, McastGroupListener, MembershipFlags};
    ///
    /// # async fn bus() -> std::io::Result<()> {
    /// let owner = AsyncGroupListener::new(McastGroupListener::create(&Addr::abstract_("bus")?)?)?;
    /// loop {
    ///     let (conn, _) = owner.accept().await?;
    ///     if conn.get_ref().peer_cred()?.uid == 0 {
    ///         conn.get_ref().admit_member(MembershipFlags::SEND_TO_PEER)?;
    ///     }
    ///     # break;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn accept(&self) -> io::Result<(AsyncAccepted, Addr)> {
        let (conn, addr) = self.read_with(|l| l.accept()).await?;
        Ok((Async::new(conn)?, addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unique_addr as unique;
    use std::future::Future;
    use std::time::Duration;

    const UNIX: i32 = libc::AF_UNIX;

    fn run<F: Future>(f: F) -> F::Output {
        ::tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(f)
    }

    #[test]
    fn recv_from_waits_for_a_datagram() {
        run(async {
            let name = unique("async-dgram");
            let rx = AsyncDatagram::new(McastDatagram::bind_in(UNIX, &name).unwrap()).unwrap();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                McastDatagram::unbound_in(UNIX).unwrap().send_to(b"late", &name).unwrap();
            });
            let mut buf = [0u8; 8];
            let (n, from) = rx.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from.is_unnamed()), (&b"late"[..], true));
            sender.join().unwrap();

            let tx = AsyncDatagram::new(McastDatagram::unbound_in(UNIX).unwrap()).unwrap();
            tx.send_to(b"ab", &rx.get_ref().local_addr().unwrap()).await.unwrap();
            assert_eq!(rx.peek_from(&mut buf).await.unwrap().0, 2);
            assert_eq!(rx.recv(&mut buf).await.unwrap(), 2);
        });
    }

    #[test]
    fn accept_and_recv_msg_with_a_descriptor() {
        run(async {
            let name = unique("async-listen");
            let l = AsyncListener::new(McastListener::bind_in(UNIX, &name).unwrap()).unwrap();
            let client = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                let c = McastSeqpacket::connect_in(UNIX, &name).unwrap();
                let passed = McastDatagram::unbound_in(UNIX).unwrap();
                c.send_with_fds(b"with fd", &[passed.as_fd()]).unwrap();
                let mut buf = [0u8; 8];
                assert_eq!(c.recv(&mut buf).unwrap(), 3);
                passed.id().unwrap()
            });
            let (conn, _) = l.accept().await.unwrap();
            conn.get_ref().set_passcred(true).unwrap();
            let mut buf = [0u8; 16];
            let meta = conn.recv_msg(&mut buf).await.unwrap();
            assert_eq!(&buf[..meta.len], b"with fd");
            assert_eq!(meta.cred.unwrap().pid as u32, std::process::id());
            let fd = meta.fds.into_iter().next().unwrap();
            conn.send(b"ack").await.unwrap();
            let id = client.join().unwrap();
            let got = crate::Socket::from_fd(fd, UNIX).unwrap();
            assert_eq!(got.id().unwrap(), id, "the descriptor is the client's socket");
        });
    }

    #[test]
    fn send_waits_for_room() {
        run(async {
            let (a, b) = McastSeqpacket::pair_in(UNIX).unwrap();
            a.set_send_buffer_size(4096).unwrap();
            let a = AsyncSeqpacket::new(a).unwrap();
            let msg = [7u8; 512];
            let mut sent = 0;
            while a.get_ref().send(&msg).is_ok() {
                sent += 1;
            }
            assert!(sent > 0);
            let reader = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                let mut buf = [0u8; 1024];
                let mut got = 0;
                while b.recv(&mut buf).unwrap() > 0 {
                    got += 1;
                }
                got
            });
            a.send(&msg).await.unwrap();
            a.send_msg(&msg, None, &[]).await.unwrap();
            a.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
            assert_eq!(reader.join().unwrap(), sent + 2, "every message arrived");
        });
    }

    #[test]
    fn read_with_and_into_inner() {
        run(async {
            let (a, b) = McastDatagram::pair_in(UNIX).unwrap();
            let b = AsyncDatagram::new(b).unwrap();
            a.send(b"xyz").unwrap();
            let mut buf = [0u8; 4];
            let n = b.read_with(|s| s.recv_with_flags(&mut buf, libc::MSG_TRUNC)).await.unwrap();
            assert_eq!(n, 3);
            assert_eq!(b.as_raw_fd(), b.as_fd().as_raw_fd());
            let b = b.into_inner();
            assert_eq!(b.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock, "still nonblocking");

            // The untyped socket too, through read_with/write_with.
            let (c, d) = Socket::pair(UNIX, crate::SockType::Seqpacket).unwrap();
            let (c, d) = (Async::new(c).unwrap(), Async::new(d).unwrap());
            c.write_with(|s| s.send(b"raw")).await.unwrap();
            assert_eq!(d.read_with(|s| s.recv(&mut buf)).await.unwrap(), 3);
        });
    }
}
