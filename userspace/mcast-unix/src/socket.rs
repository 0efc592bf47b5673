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

/// The socket types the family provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockType {
    /// `SOCK_DGRAM`: datagrams; groups by join.
    Dgram,
    /// `SOCK_SEQPACKET`: connections; groups by admission.
    Seqpacket,
}

impl SockType {
    /// The `SOCK_*` value.
    pub fn raw(self) -> libc::c_int {
        match self {
            SockType::Dgram => libc::SOCK_DGRAM,
            SockType::Seqpacket => libc::SOCK_SEQPACKET,
        }
    }
}

/// A socket (owns its descriptor, opened close-on-exec).
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

impl Socket {
    /// A datagram socket of the loaded module's family ([`family()`]).
    pub fn dgram() -> io::Result<Socket> {
        Socket::new(family()?, SockType::Dgram)
    }

    /// A seqpacket socket of the loaded module's family ([`family()`]).
    pub fn seqpacket() -> io::Result<Socket> {
        Socket::new(family()?, SockType::Seqpacket)
    }

    /// A datagram socket of address family `family`.
    pub fn dgram_in(family: i32) -> io::Result<Socket> {
        Socket::new(family, SockType::Dgram)
    }

    /// A seqpacket socket of address family `family`.
    pub fn seqpacket_in(family: i32) -> io::Result<Socket> {
        Socket::new(family, SockType::Seqpacket)
    }

    /// A socket of `family` and `ty`, protocol 0, close-on-exec.
    pub fn new(family: i32, ty: SockType) -> io::Result<Socket> {
        let fam = family_of(family)?;
        // SAFETY: plain system call; no pointers.
        let fd = cvt(unsafe { libc::socket(family, ty.raw() | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: socket() just returned this descriptor and nothing else owns it.
        Ok(Socket { fd: unsafe { OwnedFd::from_raw_fd(fd) }, family: fam })
    }

    /// Wraps a descriptor of a socket of address family `family`.
    pub fn from_fd(fd: OwnedFd, family: i32) -> io::Result<Socket> {
        Ok(Socket { fd, family: family_of(family)? })
    }

    /// The address family this socket was made with.
    pub fn family(&self) -> i32 {
        self.family.into()
    }

    /// bind(): [`Addr::unnamed`] asks for autobind (an abstract name picked
    /// by the kernel).
    pub fn bind(&self, addr: &Addr) -> io::Result<()> {
        let (raw, len) = addr.to_raw(self.family);
        // SAFETY: `raw` is a valid sockaddr_un of at least `len` bytes.
        cvt(unsafe { libc::bind(self.as_raw_fd(), (&raw as *const libc::sockaddr_un).cast(), len) })?;
        Ok(())
    }

    /// connect(): a datagram socket's default destination (a peer or a
    /// group), or a seqpacket connection to a listener.
    pub fn connect(&self, addr: &Addr) -> io::Result<()> {
        let (raw, len) = addr.to_raw(self.family);
        // SAFETY: `raw` is a valid sockaddr_un of at least `len` bytes.
        cvt(unsafe { libc::connect(self.as_raw_fd(), (&raw as *const libc::sockaddr_un).cast(), len) })?;
        Ok(())
    }

    /// listen() (seqpacket).
    pub fn listen(&self, backlog: i32) -> io::Result<()> {
        // SAFETY: plain system call; no pointers.
        cvt(unsafe { libc::listen(self.as_raw_fd(), backlog) })?;
        Ok(())
    }

    /// accept() (seqpacket): the new connection, close-on-exec, and the
    /// client's address.
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
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of its length.
        cvt_len(unsafe { libc::send(self.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) })
    }

    /// sendto(): one datagram to `addr` (a socket or a group).
    pub fn send_to(&self, buf: &[u8], addr: &Addr) -> io::Result<usize> {
        let (raw, len) = addr.to_raw(self.family);
        // SAFETY: `buf` is valid for reads of its length; `raw` is a valid
        // sockaddr_un of at least `len` bytes.
        cvt_len(unsafe {
            libc::sendto(
                self.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
                (&raw as *const libc::sockaddr_un).cast(),
                len,
            )
        })
    }

    /// recv(): one message into `buf` (cut to its size). Returns the bytes
    /// received.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        cvt_len(unsafe { libc::recv(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })
    }

    /// recvfrom(): one message into `buf` and the sender's address (for a
    /// group message, the original sender's).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Addr)> {
        with_addr_out(|raw, len| {
            // SAFETY: `buf` is valid for writes of its length; `raw` and
            // `len` describe a writable sockaddr_un.
            cvt_len(unsafe { libc::recvfrom(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0, raw, len) })
        })
    }

    /// getsockname().
    pub fn local_addr(&self) -> io::Result<Addr> {
        with_addr_out(|raw, len| {
            // SAFETY: `raw` and `len` describe a writable sockaddr_un.
            cvt(unsafe { libc::getsockname(self.as_raw_fd(), raw, len) })
        })
        .map(|(_, addr)| addr)
    }

    /// getpeername().
    pub fn peer_addr(&self) -> io::Result<Addr> {
        with_addr_out(|raw, len| {
            // SAFETY: `raw` and `len` describe a writable sockaddr_un.
            cvt(unsafe { libc::getpeername(self.as_raw_fd(), raw, len) })
        })
        .map(|(_, addr)| addr)
    }

    /// shutdown(). Shutting down reading also leaves every group.
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

    /// Sets or clears `O_NONBLOCK`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        let mut on = libc::c_int::from(nonblocking);
        // SAFETY: FIONBIO reads one int from the valid pointer.
        cvt(unsafe { libc::ioctl(self.as_raw_fd(), libc::FIONBIO, &mut on) })?;
        Ok(())
    }

    /// `SO_PEERCRED`: the credentials of the connected peer (check them
    /// before [`admit_member`](Socket::admit_member)).
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
    pub fn create_group(&self, group: &Addr) -> io::Result<()> {
        self.group_option(crate::MCAST_UNIX_CREATE_GROUP, group, 0)
    }

    /// `MCAST_UNIX_JOIN_GROUP` (datagram): become a member of `group` with
    /// `MCAST_UNIX_*` flags.
    pub fn join_group(&self, group: &Addr, flags: u32) -> io::Result<()> {
        self.group_option(crate::MCAST_UNIX_JOIN_GROUP, group, flags)
    }

    /// `MCAST_UNIX_LEAVE_GROUP` (datagram).
    pub fn leave_group(&self, group: &Addr) -> io::Result<()> {
        self.group_option(crate::MCAST_UNIX_LEAVE_GROUP, group, 0)
    }

    /// `MCAST_UNIX_ADMIT_MEMBER`, on a connection the group owner accepted:
    /// its client becomes a member with `MCAST_UNIX_*` flags.
    pub fn admit_member(&self, flags: u32) -> io::Result<()> {
        self.set_option(SOL_MCAST_UNIX, crate::MCAST_UNIX_ADMIT_MEMBER, Some(&flags))
    }

    /// `MCAST_UNIX_PEER_FILTER`, on a connection the group owner accepted:
    /// the client receives only group messages `prog` accepts (and its own
    /// filter too). The kernel checks the program (`EINVAL`).
    pub fn set_peer_filter(&self, prog: &Program) -> io::Result<()> {
        let fprog = prog.as_fprog();
        self.set_option(SOL_MCAST_UNIX, crate::MCAST_UNIX_PEER_FILTER, Some(fprog.as_raw()))
    }

    /// Removes the peer filter (`MCAST_UNIX_PEER_FILTER` with optlen 0).
    pub fn clear_peer_filter(&self) -> io::Result<()> {
        self.set_option::<()>(SOL_MCAST_UNIX, crate::MCAST_UNIX_PEER_FILTER, None)
    }

    /// `SO_ATTACH_FILTER`: this socket receives only what `prog` accepts,
    /// cut to the length it returns. The kernel checks the program
    /// (`EINVAL`).
    pub fn attach_filter(&self, prog: &Program) -> io::Result<()> {
        let fprog = prog.as_fprog();
        self.set_option(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, Some(fprog.as_raw()))
    }

    /// `SO_DETACH_FILTER` (`ENOENT` if none is attached).
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
    fn family_out_of_range_is_refused() {
        assert_eq!(Socket::dgram_in(1 << 20).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
