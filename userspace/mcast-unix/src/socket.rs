//! [`Socket`]: a socket of the module's family.
//!
//! Every call is one system call; errors are the kernel's errno as an
//! [`io::Error`]. Nothing is retried: `EINTR` and `EAGAIN` reach the caller.

use crate::addr::Addr;
use crate::filter::Program;
use crate::{family, McastUnixMreq, SOL_MCAST_UNIX};
use std::io;
use std::mem::size_of;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The socket types the family provides.
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let s = Socket::new(libc::AF_UNIX, SockType::Dgram)?;
/// assert_eq!(SockType::Dgram.raw(), libc::SOCK_DGRAM);
/// # let _ = s;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockType {
    /// `SOCK_DGRAM`: datagrams; groups by join.
    Dgram,
    /// `SOCK_SEQPACKET`: connections; groups by admission.
    Seqpacket,
}

impl SockType {
    /// The `SOCK_*` value.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// assert_eq!(SockType::Seqpacket.raw(), libc::SOCK_SEQPACKET);
    /// # Ok(())
    /// # }
    /// ```
    pub fn raw(self) -> libc::c_int {
        match self {
            SockType::Dgram => libc::SOCK_DGRAM,
            SockType::Seqpacket => libc::SOCK_SEQPACKET,
        }
    }
}

/// A socket (owns its descriptor, opened close-on-exec).
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// // On AF_UNIX, which shares the calls; Socket::dgram() for the module's family.
/// let rx = Socket::dgram_in(libc::AF_UNIX)?;
/// rx.bind(&Addr::unnamed())?;
/// let tx = Socket::dgram_in(libc::AF_UNIX)?;
/// tx.send_to(b"hello", &rx.local_addr()?)?;
///
/// let mut buf = [0u8; 16];
/// let (n, from) = rx.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from.is_unnamed()), (&b"hello"[..], true));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    family: libc::sa_family_t,
}

/// A libc return value as a result.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A libc byte count as a result.
fn cvt_len(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

fn family_of(family: i32) -> io::Result<libc::sa_family_t> {
    libc::sa_family_t::try_from(family)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "address family out of range"))
}

/// Runs `call` with room for an address and returns its result with the
/// address it reported.
fn with_addr_out<T>(
    call: impl FnOnce(*mut libc::sockaddr, *mut libc::socklen_t) -> io::Result<T>,
) -> io::Result<(T, Addr)> {
    let mut raw = libc::sockaddr_un { sun_family: 0, sun_path: [0; crate::addr::SUN_PATH_LEN] };
    let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let value = call((&mut raw as *mut libc::sockaddr_un).cast(), &mut len)?;
    Ok((value, Addr::from_raw(&raw, len)))
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO` as a `timeval` (`None` and zero: no timeout).
fn timeval_of(timeout: Option<Duration>) -> libc::timeval {
    let d = timeout.unwrap_or_default();
    // Capped at 2^31 - 1 seconds (68 years), which fits every `time_t`.
    let mut tv = libc::timeval { tv_sec: d.as_secs().min(i32::MAX as u64) as _, tv_usec: d.subsec_micros() as _ };
    if tv.tv_sec == 0 && tv.tv_usec == 0 && !d.is_zero() {
        // Below a microsecond: the shortest timeout, not none.
        tv.tv_usec = 1;
    }
    tv
}

/// The room [`Socket::recv_msg`] gives ancillary data: credentials, the
/// drop counter, the sender id and `SCM_MAX_FD` (253) descriptors, in
/// `u64`s for cmsghdr alignment.
const CONTROL_WORDS: usize = 160;

/// What [`Socket::recv_msg`] reports besides the data.
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
/// peer.set_passcred(true)?;
/// let file = std::fs::File::open("/dev/null")?;
/// s.send_msg(b"with a file", None, None, &[file.as_fd()], 0)?;
///
/// let mut buf = [0u8; 32];
/// let meta: RecvMeta = peer.recv_msg(&mut buf, 0)?;
/// assert_eq!(&buf[..meta.len], b"with a file");
/// assert_eq!(meta.cred.map(|c| c.pid as u32), Some(std::process::id()));
/// assert_eq!(meta.fds.len(), 1);
/// assert_eq!(meta.flags & libc::MSG_TRUNC, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RecvMeta {
    /// recvmsg()'s return value: the bytes received, or with `MSG_TRUNC` in
    /// the flags passed, the message's full length.
    pub len: usize,
    /// The sender's address (for a group message, the original sender's).
    pub from: Addr,
    /// `msg_flags`: `MSG_TRUNC` if the message did not fit, `MSG_CTRUNC`
    /// if the ancillary data did not.
    pub flags: libc::c_int,
    /// The sender's credentials (`SCM_CREDENTIALS`), with
    /// [`set_passcred`](Socket::set_passcred).
    pub cred: Option<libc::ucred>,
    /// The receiver's drop counter (`SO_RXQ_OVFL`), with
    /// [`set_recv_overflow`](Socket::set_recv_overflow).
    pub dropped: Option<u32>,
    /// Descriptors passed with the message (`SCM_RIGHTS`), now owned here.
    pub fds: Vec<OwnedFd>,
    /// The id of the socket that sent the message (its [`id`](Socket::id),
    /// stamped by the kernel), with
    /// [`set_pass_sender_id`](Socket::set_pass_sender_id).
    pub sender_id: Option<u64>,
}

impl Socket {
    /// A datagram socket of the loaded module's family ([`family()`]).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::dgram()?;
    /// s.bind(&Addr::abstract_("inbox")?)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn dgram() -> io::Result<Socket> {
        Socket::new(family()?, SockType::Dgram)
    }

    /// A seqpacket socket of the loaded module's family ([`family()`]).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::seqpacket()?;
    /// s.connect(&Addr::abstract_("room")?)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn seqpacket() -> io::Result<Socket> {
        Socket::new(family()?, SockType::Seqpacket)
    }

    /// A datagram socket of address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::dgram_in(libc::AF_UNIX)?;
    /// assert_eq!(s.family(), libc::AF_UNIX);
    /// # Ok(())
    /// # }
    /// ```
    pub fn dgram_in(family: i32) -> io::Result<Socket> {
        Socket::new(family, SockType::Dgram)
    }

    /// A seqpacket socket of address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// s.bind(&Addr::unnamed())?;
    /// s.listen(8)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn seqpacket_in(family: i32) -> io::Result<Socket> {
        Socket::new(family, SockType::Seqpacket)
    }

    /// A socket of `family` and `ty`, protocol 0, close-on-exec.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::new(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert_eq!(s.family(), libc::AF_UNIX);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(family: i32, ty: SockType) -> io::Result<Socket> {
        let fam = family_of(family)?;
        // SAFETY: plain system call; no pointers.
        let fd = cvt(unsafe { libc::socket(family, ty.raw() | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: socket() just returned this descriptor and nothing else owns it.
        Ok(Socket { fd: unsafe { OwnedFd::from_raw_fd(fd) }, family: fam })
    }

    /// Wraps a descriptor of a socket of address family `family`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// // A descriptor received or inherited, known to be a socket of this family.
    /// let (a, _b) = std::os::unix::net::UnixDatagram::pair()?;
    /// let s = Socket::from_fd(a.into(), libc::AF_UNIX)?;
    /// assert_eq!(s.family(), libc::AF_UNIX);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_fd(fd: OwnedFd, family: i32) -> io::Result<Socket> {
        Ok(Socket { fd, family: family_of(family)? })
    }

    /// The address family this socket was made with.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// assert_eq!(Socket::dgram_in(libc::AF_UNIX)?.family(), libc::AF_UNIX);
    /// # Ok(())
    /// # }
    /// ```
    pub fn family(&self) -> i32 {
        self.family.into()
    }

    /// bind(): [`Addr::unnamed`] asks for autobind (an abstract name picked
    /// by the kernel).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::dgram_in(libc::AF_UNIX)?;
    /// s.bind(&Addr::unnamed())?;
    /// assert!(s.local_addr()?.as_abstract().is_some(), "autobound to an abstract name");
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind(&self, addr: &Addr) -> io::Result<()> {
        let (raw, len) = addr.to_raw(self.family);
        // SAFETY: `raw` is a valid sockaddr_un of at least `len` bytes.
        cvt(unsafe { libc::bind(self.as_raw_fd(), (&raw as *const libc::sockaddr_un).cast(), len) })?;
        Ok(())
    }

    /// connect(): a datagram socket's default destination (a peer or a
    /// group), or a seqpacket connection to a listener.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// let tx = Socket::dgram_in(libc::AF_UNIX)?;
    /// tx.connect(&rx.local_addr()?)?;
    /// tx.send(b"to the default destination")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(&self, addr: &Addr) -> io::Result<()> {
        let (raw, len) = addr.to_raw(self.family);
        // SAFETY: `raw` is a valid sockaddr_un of at least `len` bytes.
        cvt(unsafe { libc::connect(self.as_raw_fd(), (&raw as *const libc::sockaddr_un).cast(), len) })?;
        Ok(())
    }

    /// listen() (seqpacket).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let l = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// l.bind(&Addr::unnamed())?;
    /// l.listen(16)?;
    /// let c = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// c.connect(&l.local_addr()?)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn listen(&self, backlog: i32) -> io::Result<()> {
        // SAFETY: plain system call; no pointers.
        cvt(unsafe { libc::listen(self.as_raw_fd(), backlog) })?;
        Ok(())
    }

    /// accept() (seqpacket): the new connection, close-on-exec, and the
    /// client's address.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let l = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// l.bind(&Addr::unnamed())?;
    /// l.listen(16)?;
    /// let c = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// c.connect(&l.local_addr()?)?;
    ///
    /// let (conn, from) = l.accept()?;
    /// assert!(from.is_unnamed(), "the client is not bound");
    /// c.send(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(conn.recv(&mut buf)?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn accept(&self) -> io::Result<(Socket, Addr)> {
        let (fd, addr) = with_addr_out(|raw, len| {
            // SAFETY: `raw` and `len` describe a writable sockaddr_un.
            cvt(unsafe { libc::accept4(self.as_raw_fd(), raw, len, libc::SOCK_CLOEXEC) })
        })?;
        // SAFETY: accept4() just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok((Socket { fd, family: self.family }, addr))
    }

    /// send() on a connected socket (`MSG_NOSIGNAL`: a closed peer gives
    /// `EPIPE`, not SIGPIPE). Returns the bytes sent.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert_eq!(s.send(b"hello")?, 5);
    /// let mut buf = [0u8; 16];
    /// assert_eq!(peer.recv(&mut buf)?, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_with_flags(buf, 0)
    }

    /// sendto(): one datagram to `addr` (a socket or a group).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// let tx = Socket::dgram_in(libc::AF_UNIX)?;
    /// assert_eq!(tx.send_to(b"hello", &rx.local_addr()?)?, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: &Addr) -> io::Result<usize> {
        self.send_to_with_flags(buf, addr, 0)
    }

    /// send() with `MSG_*` flags (such as `MSG_DONTWAIT`); `MSG_NOSIGNAL`
    /// is always added. Returns the bytes sent.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert_eq!(s.send_with_flags(b"now or never", libc::MSG_DONTWAIT)?, 12);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_with_flags(&self, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of its length.
        cvt_len(unsafe {
            libc::send(self.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags | libc::MSG_NOSIGNAL)
        })
    }

    /// sendto() with `MSG_*` flags; `MSG_NOSIGNAL` is always added.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// let tx = Socket::dgram_in(libc::AF_UNIX)?;
    /// tx.send_to_with_flags(b"now or never", &rx.local_addr()?, libc::MSG_DONTWAIT)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_to_with_flags(&self, buf: &[u8], addr: &Addr, flags: libc::c_int) -> io::Result<usize> {
        let (raw, len) = addr.to_raw(self.family);
        // SAFETY: `buf` is valid for reads of its length; `raw` is a valid
        // sockaddr_un of at least `len` bytes.
        cvt_len(unsafe {
            libc::sendto(
                self.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                flags | libc::MSG_NOSIGNAL,
                (&raw as *const libc::sockaddr_un).cast(),
                len,
            )
        })
    }

    /// sendmsg() of one message to `to` (or the connected peer) carrying
    /// credentials (`SCM_CREDENTIALS`: the kernel checks that the caller may
    /// claim them) and descriptors (`SCM_RIGHTS`). `MSG_NOSIGNAL` is added
    /// to `flags`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// peer.set_passcred(true)?;
    /// // This process's credentials, which the kernel lets it claim.
    /// let me = s.peer_cred()?;
    /// let file = std::fs::File::open("/dev/null")?;
    /// s.send_msg(b"signed, with a file", None, Some(me), &[file.as_fd()], 0)?;
    ///
    /// let mut buf = [0u8; 32];
    /// let meta = peer.recv_msg(&mut buf, 0)?;
    /// assert_eq!(meta.cred.map(|c| c.uid), Some(me.uid));
    /// assert_eq!(meta.fds.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_msg(
        &self,
        buf: &[u8],
        to: Option<&Addr>,
        cred: Option<libc::ucred>,
        fds: &[BorrowedFd<'_>],
        flags: libc::c_int,
    ) -> io::Result<usize> {
        let fds: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let fds_len = std::mem::size_of_val(fds.as_slice());
        // SAFETY: CMSG_SPACE only computes a size.
        let space = |n: usize| unsafe { libc::CMSG_SPACE(n as u32) } as usize;
        let total = cred.map_or(0, |_| space(size_of::<libc::ucred>())) + if fds.is_empty() { 0 } else { space(fds_len) };
        let mut control = vec![0u64; total.div_ceil(8)];
        let addr = to.map(|a| a.to_raw(self.family));
        let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: all-zero is a valid msghdr.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        if let Some((raw, len)) = &addr {
            msg.msg_name = (raw as *const libc::sockaddr_un).cast_mut().cast();
            msg.msg_namelen = *len;
        }
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if total > 0 {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = total as _;
            let items = cred
                .as_ref()
                .map(|c| (libc::SCM_CREDENTIALS, (c as *const libc::ucred).cast::<u8>(), size_of::<libc::ucred>()))
                .into_iter()
                .chain((!fds.is_empty()).then(|| (libc::SCM_RIGHTS, fds.as_ptr().cast::<u8>(), fds_len)));
            // SAFETY: `control` is `total` bytes, exactly the CMSG_SPACE of
            // the items written; CMSG_FIRSTHDR/CMSG_NXTHDR stay within it and
            // each item's source is valid for its length.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                for (ty, src, len) in items {
                    (*c).cmsg_level = libc::SOL_SOCKET;
                    (*c).cmsg_type = ty;
                    (*c).cmsg_len = libc::CMSG_LEN(len as u32) as _;
                    std::ptr::copy_nonoverlapping(src, libc::CMSG_DATA(c), len);
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
        }
        // SAFETY: every pointer in `msg` is valid for the length given with it.
        cvt_len(unsafe { libc::sendmsg(self.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) })
    }

    /// recv(): one message into `buf` (cut to its size). Returns the bytes
    /// received.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// peer.send(b"hi")?;
    /// let mut buf = [0u8; 16];
    /// let n = s.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hi");
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_with_flags(buf, 0)
    }

    /// recv() with `MSG_*` flags (`MSG_DONTWAIT`, `MSG_PEEK`, `MSG_TRUNC`).
    /// Returns recvmsg()'s value: the bytes received, or with `MSG_TRUNC`
    /// the message's full length (which may exceed `buf`).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// peer.send(b"longer than the buffer")?;
    /// let mut buf = [0u8; 4];
    /// // MSG_TRUNC: the message's full length, though 4 bytes were copied.
    /// assert_eq!(s.recv_with_flags(&mut buf, libc::MSG_TRUNC)?, 22);
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_with_flags(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        cvt_len(unsafe { libc::recv(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) })
    }

    /// Like [`recv`](Socket::recv) but leaves the message queued
    /// (`MSG_PEEK`).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// peer.send(b"hi")?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(s.peek(&mut buf)?, 2);
    /// assert_eq!(s.recv(&mut buf)?, 2, "still queued after the peek");
    /// # Ok(())
    /// # }
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_with_flags(buf, libc::MSG_PEEK)
    }

    /// recvmsg(): one message into `buf` with its sender, `msg_flags` and
    /// ancillary data. `flags` as for
    /// [`recv_with_flags`](Socket::recv_with_flags).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_passcred(true)?;
    /// peer.send(b"hi")?;
    /// let mut buf = [0u8; 16];
    /// let meta = s.recv_msg(&mut buf, libc::MSG_CMSG_CLOEXEC)?;
    /// assert_eq!(&buf[..meta.len], b"hi");
    /// assert_eq!(meta.cred.map(|c| c.pid as u32), Some(std::process::id()));
    /// assert!(meta.fds.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_msg(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<RecvMeta> {
        let mut control = [0u64; CONTROL_WORDS];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: all-zero is a valid msghdr.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        let (len, from) = with_addr_out(|raw, raw_len| {
            msg.msg_name = raw.cast();
            // SAFETY: `raw_len` points at the caller's valid socklen_t.
            msg.msg_namelen = unsafe { *raw_len };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of_val(&control) as _;
            // SAFETY: every pointer in `msg` is valid for the length given with it.
            let n = cvt_len(unsafe { libc::recvmsg(self.as_raw_fd(), &mut msg, flags) })?;
            // SAFETY: as above; the kernel updated msg_namelen.
            unsafe { *raw_len = msg.msg_namelen };
            Ok(n)
        })?;
        let mut meta =
            RecvMeta { len, from, flags: msg.msg_flags, cred: None, dropped: None, fds: Vec::new(), sender_id: None };
        // SAFETY: the kernel filled msg_controllen bytes of `control` with
        // well-formed cmsghdrs; CMSG_FIRSTHDR/CMSG_NXTHDR stay within them
        // and each payload is read within its cmsg_len.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let data = libc::CMSG_DATA(c);
                let n = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                match ((*c).cmsg_level, (*c).cmsg_type) {
                    (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if n >= size_of::<libc::ucred>() => {
                        meta.cred = Some(std::ptr::read_unaligned(data.cast()));
                    }
                    (crate::SOL_MCAST_UNIX, crate::MCAST_UNIX_SENDER_ID) if n >= size_of::<u64>() => {
                        meta.sender_id = Some(std::ptr::read_unaligned(data.cast()));
                    }
                    (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) if n >= size_of::<u32>() => {
                        meta.dropped = Some(std::ptr::read_unaligned(data.cast()));
                    }
                    (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                        for i in 0..n / size_of::<RawFd>() {
                            let fd: RawFd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                            // The kernel installed this descriptor for us.
                            meta.fds.push(OwnedFd::from_raw_fd(fd));
                        }
                    }
                    _ => {}
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(meta)
    }

    /// recvfrom(): one message into `buf` and the sender's address (for a
    /// group message, the original sender's).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// let tx = Socket::dgram_in(libc::AF_UNIX)?;
    /// tx.bind(&Addr::unnamed())?;
    /// tx.send_to(b"hi", &rx.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// let (n, from) = rx.recv_from(&mut buf)?;
    /// assert_eq!((n, from), (2, tx.local_addr()?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        self.recv_from_with_flags(buf, 0)
    }

    /// recvfrom() with `MSG_*` flags; the length as for
    /// [`recv_with_flags`](Socket::recv_with_flags).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// let mut buf = [0u8; 16];
    /// let r = rx.recv_from_with_flags(&mut buf, libc::MSG_DONTWAIT);
    /// assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::WouldBlock, "nothing queued");
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_from_with_flags(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<(usize, Addr)> {
        with_addr_out(|raw, len| {
            // SAFETY: `buf` is valid for writes of its length; `raw` and
            // `len` describe a writable sockaddr_un.
            cvt_len(unsafe { libc::recvfrom(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags, raw, len) })
        })
    }

    /// Like [`recv_from`](Socket::recv_from) but leaves the message queued
    /// (`MSG_PEEK`).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// Socket::dgram_in(libc::AF_UNIX)?.send_to(b"hi", &rx.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(rx.peek_from(&mut buf)?.0, 2);
    /// assert_eq!(rx.recv_from(&mut buf)?.0, 2, "still queued after the peek");
    /// # Ok(())
    /// # }
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        self.recv_from_with_flags(buf, libc::MSG_PEEK)
    }

    /// getsockname().
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::dgram_in(libc::AF_UNIX)?;
    /// assert!(s.local_addr()?.is_unnamed(), "not bound yet");
    /// s.bind(&Addr::unnamed())?;
    /// println!("bound at {}", s.local_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self) -> io::Result<Addr> {
        with_addr_out(|raw, len| {
            // SAFETY: `raw` and `len` describe a writable sockaddr_un.
            cvt(unsafe { libc::getsockname(self.as_raw_fd(), raw, len) })
        })
        .map(|(_, addr)| addr)
    }

    /// getpeername().
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let l = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// l.bind(&Addr::unnamed())?;
    /// l.listen(4)?;
    /// let c = Socket::seqpacket_in(libc::AF_UNIX)?;
    /// c.connect(&l.local_addr()?)?;
    /// assert_eq!(c.peer_addr()?, l.local_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_addr(&self) -> io::Result<Addr> {
        with_addr_out(|raw, len| {
            // SAFETY: `raw` and `len` describe a writable sockaddr_un.
            cvt(unsafe { libc::getpeername(self.as_raw_fd(), raw, len) })
        })
        .map(|(_, addr)| addr)
    }

    /// shutdown(). Shutting down reading also leaves every group.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// peer.shutdown(Shutdown::Write)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(s.recv(&mut buf)?, 0, "end of file");
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        // SAFETY: plain system call; no pointers.
        cvt(unsafe { libc::shutdown(self.as_raw_fd(), how) })?;
        Ok(())
    }

    /// connect() to `AF_UNSPEC`: a datagram socket drops its default
    /// destination.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let rx = Socket::dgram_in(libc::AF_UNIX)?;
    /// rx.bind(&Addr::unnamed())?;
    /// let tx = Socket::dgram_in(libc::AF_UNIX)?;
    /// tx.connect(&rx.local_addr()?)?;
    /// tx.disconnect()?;
    /// assert_eq!(tx.send(b"x").unwrap_err().raw_os_error(), Some(libc::ENOTCONN));
    /// # Ok(())
    /// # }
    /// ```
    pub fn disconnect(&self) -> io::Result<()> {
        let raw = libc::sockaddr_un { sun_family: libc::AF_UNSPEC as libc::sa_family_t, sun_path: [0; crate::addr::SUN_PATH_LEN] };
        let len = crate::addr::PATH_OFFSET as libc::socklen_t;
        // SAFETY: `raw` is a valid sockaddr_un of at least `len` bytes.
        cvt(unsafe { libc::connect(self.as_raw_fd(), (&raw as *const libc::sockaddr_un).cast(), len) })?;
        Ok(())
    }

    /// socketpair(): two connected sockets of `family` and `ty`,
    /// close-on-exec.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = Socket::pair(libc::AF_UNIX, SockType::Dgram)?;
    /// a.send(b"ping")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf)?, 4);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pair(family: i32, ty: SockType) -> io::Result<(Socket, Socket)> {
        let fam = family_of(family)?;
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors.
        cvt(unsafe { libc::socketpair(family, ty.raw() | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
        // SAFETY: socketpair() just returned these descriptors and nothing
        // else owns them.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Socket { fd: a, family: fam }, Socket { fd: b, family: fam }))
    }

    /// A second descriptor for the same socket (`F_DUPFD_CLOEXEC`): both
    /// share the queue, the options and any group membership.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// let again = s.try_clone()?;
    /// assert_eq!(again.id()?, s.id()?, "the same socket");
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_clone(&self) -> io::Result<Socket> {
        Ok(Socket { fd: self.fd.try_clone()?, family: self.family })
    }

    /// `SO_ERROR`: takes the socket's pending error, if any.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert!(s.take_error()?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let err = self.get_int(libc::SO_ERROR)?;
        Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
    }

    /// Sets or clears `O_NONBLOCK`.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_nonblocking(true)?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(s.recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        let mut on = libc::c_int::from(nonblocking);
        // SAFETY: FIONBIO reads one int from the valid pointer.
        cvt(unsafe { libc::ioctl(self.as_raw_fd(), libc::FIONBIO, &mut on) })?;
        Ok(())
    }

    /// `SO_PEERCRED`: the credentials of the connected peer (check them
    /// before [`admit_member`](Socket::admit_member)).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert_eq!(s.peer_cred()?.pid as u32, std::process::id(), "the peer is this process");
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_cred(&self) -> io::Result<libc::ucred> {
        let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
        let mut len = size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` and `len` describe a writable ucred.
        cvt(unsafe {
            libc::getsockopt(
                self.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        })?;
        Ok(cred)
    }

    /// getsockopt() of a value of type `T`.
    fn get_option<T: Copy>(&self, level: libc::c_int, name: libc::c_int, init: T) -> io::Result<T> {
        let mut val = init;
        let mut len = size_of::<T>() as libc::socklen_t;
        // SAFETY: `val` and `len` describe a writable T.
        cvt(unsafe { libc::getsockopt(self.as_raw_fd(), level, name, (&mut val as *mut T).cast(), &mut len) })?;
        Ok(val)
    }

    fn set_int(&self, name: libc::c_int, val: libc::c_int) -> io::Result<()> {
        self.set_option(libc::SOL_SOCKET, name, Some(&val))
    }

    fn get_int(&self, name: libc::c_int) -> io::Result<libc::c_int> {
        self.get_option(libc::SOL_SOCKET, name, 0)
    }

    fn set_timeout(&self, name: libc::c_int, timeout: Option<Duration>) -> io::Result<()> {
        self.set_option(libc::SOL_SOCKET, name, Some(&timeval_of(timeout)))
    }

    fn timeout(&self, name: libc::c_int) -> io::Result<Option<Duration>> {
        let tv = self.get_option(libc::SOL_SOCKET, name, libc::timeval { tv_sec: 0, tv_usec: 0 })?;
        let d = Duration::new(tv.tv_sec.max(0) as u64, 0) + Duration::from_micros(tv.tv_usec.max(0) as u64);
        Ok(Some(d).filter(|d| !d.is_zero()))
    }

    /// `SO_RCVTIMEO`: how long a blocking receive (or accept) waits before
    /// `EAGAIN`; `None` waits forever (a zero duration also means forever).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_read_timeout(Some(Duration::from_millis(20)))?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(s.recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_timeout(libc::SO_RCVTIMEO, timeout)
    }

    /// `SO_RCVTIMEO` read back (`None`: no timeout).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert_eq!(s.read_timeout()?, None);
    /// s.set_read_timeout(Some(Duration::from_millis(200)))?;
    /// assert_eq!(s.read_timeout()?, Some(Duration::from_millis(200)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.timeout(libc::SO_RCVTIMEO)
    }

    /// `SO_SNDTIMEO`: how long a blocking send waits for room before
    /// `EAGAIN`; `None` waits forever (a zero duration also means forever).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_write_timeout(Some(Duration::from_millis(200)))?;
    /// assert_eq!(s.write_timeout()?, Some(Duration::from_millis(200)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_timeout(libc::SO_SNDTIMEO, timeout)
    }

    /// `SO_SNDTIMEO` read back (`None`: no timeout).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert_eq!(s.write_timeout()?, None, "no timeout by default");
    /// # Ok(())
    /// # }
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.timeout(libc::SO_SNDTIMEO)
    }

    /// `SO_PASSCRED`: received messages carry the sender's credentials
    /// ([`RecvMeta::cred`]). Setting it on an unbound socket autobinds it.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_passcred(true)?;
    /// peer.send(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// assert!(s.recv_msg(&mut buf, 0)?.cred.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_passcred(&self, on: bool) -> io::Result<()> {
        self.set_int(libc::SO_PASSCRED, on.into())
    }

    /// `SO_PASSCRED` read back.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// assert!(!s.passcred()?);
    /// s.set_passcred(true)?;
    /// assert!(s.passcred()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn passcred(&self) -> io::Result<bool> {
        Ok(self.get_int(libc::SO_PASSCRED)? != 0)
    }

    /// This socket's id, unique for the boot (`SO_COOKIE`): what the
    /// messages it sends carry as their sender id.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// let id = s.id()?;
    /// assert_ne!(id, peer.id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn id(&self) -> io::Result<u64> {
        self.get_option(libc::SOL_SOCKET, libc::SO_COOKIE, 0u64)
    }

    /// `MCAST_UNIX_PASS_SENDER_ID`: received messages carry their sender's
    /// id ([`RecvMeta::sender_id`]).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(family()?, SockType::Seqpacket)?;
    /// s.set_pass_sender_id(true)?;
    /// peer.send(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(s.recv_msg(&mut buf, 0)?.sender_id, Some(peer.id()?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_pass_sender_id(&self, on: bool) -> io::Result<()> {
        self.set_option(crate::SOL_MCAST_UNIX, crate::MCAST_UNIX_PASS_SENDER_ID, Some(&libc::c_int::from(on)))
    }

    /// `MCAST_UNIX_PASS_SENDER_ID` read back.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(family()?, SockType::Seqpacket)?;
    /// assert!(!s.pass_sender_id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pass_sender_id(&self) -> io::Result<bool> {
        Ok(self.get_option(crate::SOL_MCAST_UNIX, crate::MCAST_UNIX_PASS_SENDER_ID, 0 as libc::c_int)? != 0)
    }

    /// `MCAST_UNIX_PEER_ID`: the connected peer's id (on a seqpacket group
    /// owner's accepted connection, the id its client's messages carry).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(family()?, SockType::Seqpacket)?;
    /// assert_eq!(s.peer_id()?, peer.id()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn peer_id(&self) -> io::Result<u64> {
        self.get_option(crate::SOL_MCAST_UNIX, crate::MCAST_UNIX_PEER_ID, 0u64)
    }

    /// `SO_RXQ_OVFL`: received messages carry the socket's count of dropped
    /// messages ([`RecvMeta::dropped`]).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::dgram()?;
    /// s.set_recv_overflow(true)?;
    /// s.join_group(&Addr::abstract_("signals")?, MCAST_UNIX_DROP_WHEN_FULL)?;
    /// let mut buf = [0u8; 64];
    /// let meta = s.recv_msg(&mut buf, 0)?;
    /// println!("{} messages dropped so far", meta.dropped.unwrap_or(0));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_recv_overflow(&self, on: bool) -> io::Result<()> {
        self.set_int(libc::SO_RXQ_OVFL, on.into())
    }

    /// `SO_RCVBUF`: the receive buffer size to ask for (the kernel doubles
    /// it for bookkeeping and clamps it to its limits).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_recv_buffer_size(65536)?;
    /// assert!(s.recv_buffer_size()? >= 65536, "the kernel doubles it");
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        self.set_int(libc::SO_RCVBUF, libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX))
    }

    /// `SO_RCVBUF` read back: the size the kernel uses.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// println!("{} bytes", s.recv_buffer_size()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        Ok(self.get_int(libc::SO_RCVBUF)?.max(0) as usize)
    }

    /// `SO_SNDBUF`: the send buffer size to ask for (doubled and clamped as
    /// for [`set_recv_buffer_size`](Socket::set_recv_buffer_size)).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.set_send_buffer_size(65536)?;
    /// assert!(s.send_buffer_size()? >= 65536, "the kernel doubles it");
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        self.set_int(libc::SO_SNDBUF, libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX))
    }

    /// `SO_SNDBUF` read back: the size the kernel uses.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// println!("{} bytes", s.send_buffer_size()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        Ok(self.get_int(libc::SO_SNDBUF)?.max(0) as usize)
    }

    /// setsockopt() with the bytes of `val` (`None`: optlen 0).
    fn set_option<T>(&self, level: libc::c_int, name: libc::c_int, val: Option<&T>) -> io::Result<()> {
        let (ptr, len) = match val {
            Some(v) => ((v as *const T).cast::<libc::c_void>(), size_of::<T>()),
            None => (std::ptr::NonNull::<libc::c_int>::dangling().as_ptr().cast_const().cast(), 0),
        };
        // SAFETY: `ptr` is valid for reads of `len` bytes (none for optlen 0).
        cvt(unsafe { libc::setsockopt(self.as_raw_fd(), level, name, ptr, len as libc::socklen_t) })?;
        Ok(())
    }

    /// One of the `struct mcast_unix_mreq` options.
    fn group_option(&self, name: libc::c_int, group: &Addr, flags: u32) -> io::Result<()> {
        let (address, len) = group.to_raw(self.family);
        let mreq = McastUnixMreq { address, address_len: len, flags };
        self.set_option(SOL_MCAST_UNIX, name, Some(&mreq))
    }

    /// `MCAST_UNIX_CREATE_GROUP`: binds this unbound socket to `group` and
    /// makes it the group's owner (its type is the group's type). A
    /// seqpacket owner then listens and admits the clients it accepts.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let owner = Socket::dgram()?;
    /// owner.create_group(&Addr::abstract_("signals")?)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_group(&self, group: &Addr) -> io::Result<()> {
        self.group_option(crate::MCAST_UNIX_CREATE_GROUP, group, 0)
    }

    /// `MCAST_UNIX_JOIN_GROUP` (datagram): become a member of `group` with
    /// `MCAST_UNIX_*` flags.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let member = Socket::dgram()?;
    /// member.join_group(&Addr::abstract_("signals")?, MCAST_UNIX_LOOPBACK | MCAST_UNIX_DROP_WHEN_FULL)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_group(&self, group: &Addr, flags: u32) -> io::Result<()> {
        self.group_option(crate::MCAST_UNIX_JOIN_GROUP, group, flags)
    }

    /// `MCAST_UNIX_LEAVE_GROUP` (datagram).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("signals")?;
    /// let member = Socket::dgram()?;
    /// member.join_group(&group, 0)?;
    /// member.leave_group(&group)?;
    /// assert_eq!(member.leave_group(&group).unwrap_err().raw_os_error(), Some(libc::EADDRNOTAVAIL));
    /// # Ok(())
    /// # }
    /// ```
    pub fn leave_group(&self, group: &Addr) -> io::Result<()> {
        self.group_option(crate::MCAST_UNIX_LEAVE_GROUP, group, 0)
    }

    /// `MCAST_UNIX_ADMIT_MEMBER`, on a connection the group owner accepted:
    /// its client becomes a member with `MCAST_UNIX_*` flags.
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = Socket::seqpacket()?;
    /// owner.create_group(&group)?;
    /// owner.listen(16)?;
    /// let client = Socket::seqpacket()?;
    /// client.connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// if conn.peer_cred()?.uid == 0 {
    ///     conn.admit_member(MCAST_UNIX_SEND_TO_PEER)?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn admit_member(&self, flags: u32) -> io::Result<()> {
        self.set_option(SOL_MCAST_UNIX, crate::MCAST_UNIX_ADMIT_MEMBER, Some(&flags))
    }

    /// `MCAST_UNIX_PEER_FILTER`, on a connection the group owner accepted:
    /// the client receives only group messages `prog` accepts (and its own
    /// filter too). The kernel checks the program (`EINVAL`).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = Socket::seqpacket()?;
    /// owner.create_group(&group)?;
    /// owner.listen(16)?;
    /// let client = Socket::seqpacket()?;
    /// client.connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// // The member gets only the group messages whose first byte is 7.
    /// conn.set_peer_filter(&FilterBuilder::new().u8_in(0, [7]).build()?)?;
    /// conn.admit_member(0)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_peer_filter(&self, prog: &Program) -> io::Result<()> {
        let fprog = prog.as_fprog();
        self.set_option(SOL_MCAST_UNIX, crate::MCAST_UNIX_PEER_FILTER, Some(fprog.as_raw()))
    }

    /// Removes the peer filter (`MCAST_UNIX_PEER_FILTER` with optlen 0).
    ///
    /// ```no_run
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let group = Addr::abstract_("room")?;
    /// let owner = Socket::seqpacket()?;
    /// owner.create_group(&group)?;
    /// owner.listen(16)?;
    /// let client = Socket::seqpacket()?;
    /// client.connect(&group)?;
    /// let (conn, _) = owner.accept()?;
    /// conn.set_peer_filter(&Program::reject_all())?;
    /// conn.clear_peer_filter()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_peer_filter(&self) -> io::Result<()> {
        self.set_option::<()>(SOL_MCAST_UNIX, crate::MCAST_UNIX_PEER_FILTER, None)
    }

    /// `SO_ATTACH_FILTER`: this socket receives only what `prog` accepts,
    /// cut to the length it returns. The kernel checks the program
    /// (`EINVAL`).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// // Only messages whose first byte is 1.
    /// s.attach_filter(&FilterBuilder::new().u8_in(0, [1]).build()?)?;
    /// peer.send(&[2, 0])?;
    /// peer.send(&[1, 0])?;
    /// let mut buf = [0u8; 4];
    /// s.recv(&mut buf)?;
    /// assert_eq!(buf[0], 1, "the first message was filtered out");
    /// # Ok(())
    /// # }
    /// ```
    pub fn attach_filter(&self, prog: &Program) -> io::Result<()> {
        let fprog = prog.as_fprog();
        self.set_option(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, Some(fprog.as_raw()))
    }

    /// `SO_DETACH_FILTER` (`ENOENT` if none is attached).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (s, peer) = Socket::pair(libc::AF_UNIX, SockType::Seqpacket)?;
    /// s.attach_filter(&Program::reject_all())?;
    /// s.detach_filter()?;
    /// peer.send(b"hi")?;
    /// let mut buf = [0u8; 4];
    /// assert_eq!(s.recv(&mut buf)?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn detach_filter(&self) -> io::Result<()> {
        self.set_option(libc::SOL_SOCKET, libc::SO_DETACH_FILTER, Some(&0 as &libc::c_int))
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Socket> for OwnedFd {
    fn from(s: Socket) -> OwnedFd {
        s.fd
    }
}

#[cfg(test)]
mod tests {
    //! The calls exercised on `AF_UNIX`, which shares the address layout
    //! and the socket-filter machinery; the group options need the module.

    use super::*;
    use crate::filter::{ByteOrder, FilterBuilder};
    use crate::testutil::unique_addr as unique;

    fn dgram() -> Socket {
        Socket::dgram_in(libc::AF_UNIX).unwrap()
    }

    #[test]
    fn dgram_send_to_and_recv_from_report_the_sender() {
        let (a, b) = (dgram(), dgram());
        let (an, bn) = (unique("a"), unique("b"));
        a.bind(&an).unwrap();
        b.bind(&bn).unwrap();
        assert_eq!(a.local_addr().unwrap(), an);
        assert_eq!(a.send_to(b"hello", &bn).unwrap(), 5);
        let mut buf = [0u8; 16];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], an.clone()));

        b.connect(&an).unwrap();
        assert_eq!(b.peer_addr().unwrap(), an);
        b.send(b"back").unwrap();
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
    }

    #[test]
    fn autobind_and_unnamed_senders() {
        let (a, b) = (dgram(), dgram());
        a.bind(&Addr::unnamed()).unwrap();
        let name = a.local_addr().unwrap();
        assert!(name.as_abstract().is_some(), "autobind picks an abstract name: {name}");
        b.send_to(b"x", &name).unwrap();
        let mut buf = [0u8; 4];
        assert!(a.recv_from(&mut buf).unwrap().1.is_unnamed());
    }

    #[test]
    fn pathname_bind_and_nonblocking_recv() {
        let dir = std::env::temp_dir().join(format!("mcast-unix-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let s = dgram();
        s.bind(&Addr::path(&path).unwrap()).unwrap();
        assert_eq!(s.local_addr().unwrap().as_path(), Some(path.as_path()));
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(s.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn seqpacket_accept_and_peer_cred() {
        let name = unique("listen");
        let l = Socket::seqpacket_in(libc::AF_UNIX).unwrap();
        l.bind(&name).unwrap();
        l.listen(4).unwrap();
        let c = Socket::seqpacket_in(libc::AF_UNIX).unwrap();
        c.connect(&name).unwrap();
        let (conn, _) = l.accept().unwrap();
        assert_eq!(conn.family(), libc::AF_UNIX);
        assert_eq!(conn.peer_cred().unwrap().pid as u32, std::process::id());
        c.send(b"one").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(conn.recv(&mut buf).unwrap(), 3);
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(conn.recv(&mut buf).unwrap(), 0);
    }

    #[test]
    fn attach_and_detach_filter() {
        let (tx, rx) = (dgram(), dgram());
        let name = unique("filtered");
        rx.bind(&name).unwrap();
        rx.set_nonblocking(true).unwrap();
        let prog = FilterBuilder::new().u32_in(0, ByteOrder::Native, [7]).truncate(6).build().unwrap();
        rx.attach_filter(&prog).unwrap();
        let mut buf = [0u8; 16];
        tx.send_to(&[8u32.to_ne_bytes(), [1; 4]].concat(), &name).unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        tx.send_to(&[7u32.to_ne_bytes(), [1; 4]].concat(), &name).unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap(), 6, "truncated by the filter");

        rx.detach_filter().unwrap();
        assert_eq!(rx.detach_filter().unwrap_err().raw_os_error(), Some(libc::ENOENT));
        tx.send_to(&[8u32.to_ne_bytes(), [1; 4]].concat(), &name).unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap(), 8);
    }

    #[test]
    fn malformed_filter_is_einval() {
        let s = dgram();
        let err = s.attach_filter(&Program::default()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn group_options_reach_the_kernel() {
        // AF_UNIX has no SOL_MCAST_UNIX options: each call is a real
        // setsockopt() that the kernel refuses.
        let s = dgram();
        let g = unique("group");
        assert!(s.create_group(&g).is_err());
        assert!(s.join_group(&g, crate::MCAST_UNIX_LOOPBACK).is_err());
        assert!(s.leave_group(&g).is_err());
        assert!(s.admit_member(0).is_err());
        assert!(s.set_peer_filter(&Program::accept_all()).is_err());
        assert!(s.clear_peer_filter().is_err());
    }

    #[test]
    fn flags_peek_and_trunc() {
        let (a, b) = Socket::pair(libc::AF_UNIX, SockType::Dgram).unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(b.recv_with_flags(&mut buf, libc::MSG_DONTWAIT).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        a.send_with_flags(b"hello", libc::MSG_DONTWAIT).unwrap();
        assert_eq!(b.peek(&mut buf).unwrap(), 2);
        assert_eq!(b.recv_with_flags(&mut buf, libc::MSG_TRUNC).unwrap(), 5, "the full length");
        assert_eq!(&buf, b"he");

        let (c, d) = (dgram(), dgram());
        let name = unique("peek");
        d.bind(&name).unwrap();
        c.send_to_with_flags(b"xy", &name, libc::MSG_DONTWAIT).unwrap();
        assert!(d.peek_from(&mut buf).unwrap().1.is_unnamed());
        assert_eq!(d.recv_from_with_flags(&mut buf, 0).unwrap().0, 2);
    }

    #[test]
    fn timeouts_round_trip() {
        let s = dgram();
        assert_eq!(s.read_timeout().unwrap(), None);
        s.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(1500)));
        s.set_write_timeout(Some(Duration::from_millis(20))).unwrap();
        assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_millis(20)));
        s.set_write_timeout(None).unwrap();
        assert_eq!(s.write_timeout().unwrap(), None);

        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(s.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn buffer_sizes_are_doubled() {
        let s = dgram();
        s.set_send_buffer_size(8192).unwrap();
        assert_eq!(s.send_buffer_size().unwrap(), 16384);
        s.set_recv_buffer_size(8192).unwrap();
        assert_eq!(s.recv_buffer_size().unwrap(), 16384);
        s.set_recv_overflow(true).unwrap();
    }

    #[test]
    fn credentials_and_descriptors_ride_along() {
        let (tx, rx) = (dgram(), dgram());
        let name = unique("cred");
        rx.bind(&name).unwrap();
        assert!(!rx.passcred().unwrap());
        rx.set_passcred(true).unwrap();
        assert!(rx.passcred().unwrap());

        tx.send_to(b"plain", &name).unwrap();
        let mut buf = [0u8; 16];
        let meta = rx.recv_msg(&mut buf, 0).unwrap();
        assert_eq!((meta.len, meta.flags), (5, 0));
        assert_eq!(meta.cred.unwrap().pid as u32, std::process::id(), "SO_PASSCRED fills in the sender");

        // SAFETY: plain system calls without arguments.
        let me = unsafe { libc::ucred { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() } };
        let passed = dgram();
        tx.send_msg(b"both", Some(&name), Some(me), &[passed.as_fd()], 0).unwrap();
        let meta = rx.recv_msg(&mut buf[..2], 0).unwrap();
        assert_eq!(meta.flags & libc::MSG_TRUNC, libc::MSG_TRUNC);
        assert_eq!(meta.cred.unwrap().uid, me.uid);
        assert_eq!(meta.fds.len(), 1);
        let got = Socket::from_fd(meta.fds.into_iter().next().unwrap(), libc::AF_UNIX).unwrap();
        got.bind(&unique("passed")).unwrap();
        assert!(passed.local_addr().unwrap().as_abstract().is_some(), "the same socket");
    }

    #[test]
    fn disconnect_drops_the_destination() {
        let (a, b) = (dgram(), dgram());
        let name = unique("dest");
        b.bind(&name).unwrap();
        a.connect(&name).unwrap();
        a.disconnect().unwrap();
        assert_eq!(a.send(b"x").unwrap_err().raw_os_error(), Some(libc::ENOTCONN));
    }

    #[test]
    fn try_clone_shares_the_queue() {
        let (a, b) = Socket::pair(libc::AF_UNIX, SockType::Dgram).unwrap();
        let b2 = b.try_clone().unwrap();
        assert_ne!(b.as_raw_fd(), b2.as_raw_fd());
        assert_eq!(b.id().unwrap(), b2.id().unwrap());
        a.send(b"x").unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(b2.recv(&mut buf).unwrap(), 1);
        assert!(b.take_error().unwrap().is_none());
    }

    #[test]
    fn family_out_of_range_is_refused() {
        assert_eq!(Socket::dgram_in(1 << 20).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
