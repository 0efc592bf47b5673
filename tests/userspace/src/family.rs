//! The family itself: registration, socket creation, module load/unload.
//! (Contract: "Module" and the first lines of "Sockets and addresses".)

use crate::ensure;
use crate::harness::{expect_eq, Case};
use crate::sys::{self, Errno};

/// Path of the module inside the VM (qemu/run puts it there).
const MODULE: &str = "/mcast_unix.ko";

pub fn cases(af: i32) -> Vec<Case> {
    vec![
        Case::new("family: parameter readable and the default", move || {
            expect_eq("family", mcast_unix::family().map_err(|e| e.to_string())?, mcast_unix::AF_MCAST_UNIX)?;
            expect_eq("af", af, mcast_unix::AF_MCAST_UNIX)
        }),
        Case::new("socket: SOCK_DGRAM creates and closes", move || {
            let fd = sys::socket(af, libc::SOCK_DGRAM, 0).map_err(|e| format!("{e:?}"))?;
            sys::close(fd).map_err(|e| format!("close: {e:?}"))
        }),
        Case::new("socket: SOCK_SEQPACKET creates and closes", move || {
            let fd = sys::socket(af, libc::SOCK_SEQPACKET, 0).map_err(|e| format!("{e:?}"))?;
            sys::close(fd).map_err(|e| format!("close: {e:?}"))
        }),
        Case::new("socket: SOCK_NONBLOCK and SOCK_CLOEXEC take effect", move || {
            for ty in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
                let fd = sys::socket(af, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
                    .map_err(|e| format!("{e:?}"))?;
                ensure!(sys::fcntl_getfl(&fd).unwrap() & libc::O_NONBLOCK != 0);
                ensure!(sys::fcntl_getfd(&fd).unwrap() & libc::FD_CLOEXEC != 0);
                let fd = sys::socket(af, ty, 0).map_err(|e| format!("{e:?}"))?;
                ensure!(sys::fcntl_getfl(&fd).unwrap() & libc::O_NONBLOCK == 0);
                ensure!(sys::fcntl_getfd(&fd).unwrap() & libc::FD_CLOEXEC == 0);
            }
            Ok(())
        }),
        Case::new("socket: SOCK_STREAM -> ESOCKTNOSUPPORT", move || {
            expect_eq("err", sys::socket(af, libc::SOCK_STREAM, 0).err(), Some(Errno(libc::ESOCKTNOSUPPORT)))
        }),
        Case::new("socket: SOCK_RAW, SOCK_RDM, SOCK_PACKET -> ESOCKTNOSUPPORT", move || {
            for ty in [libc::SOCK_RAW, libc::SOCK_RDM, 10 /* SOCK_PACKET */] {
                expect_eq("err", sys::socket(af, ty, 0).err(), Some(Errno(libc::ESOCKTNOSUPPORT)))?;
            }
            Ok(())
        }),
        Case::new("socket: protocol != 0 -> EPROTONOSUPPORT (checked before the type)", move || {
            for (ty, proto) in [(libc::SOCK_DGRAM, 1), (libc::SOCK_SEQPACKET, 7), (libc::SOCK_STREAM, 1)] {
                expect_eq("err", sys::socket(af, ty, proto).err(), Some(Errno(libc::EPROTONOSUPPORT)))?;
            }
            Ok(())
        }),
        Case::new("socket: SO_DOMAIN, SO_TYPE, SO_PROTOCOL", move || {
            for ty in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
                let fd = sys::socket(af, ty, 0).map_err(|e| format!("{e:?}"))?;
                expect_eq("SO_DOMAIN", sys::getsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_DOMAIN), Ok(af))?;
                expect_eq("SO_TYPE", sys::getsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_TYPE), Ok(ty))?;
                expect_eq("SO_PROTOCOL", sys::getsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_PROTOCOL), Ok(0))?;
            }
            Ok(())
        }),
        Case::new("socket: 2000 sockets open and close", move || {
            let mut fds = Vec::new();
            for i in 0..2000 {
                let ty = if i % 2 == 0 { libc::SOCK_DGRAM } else { libc::SOCK_SEQPACKET };
                fds.push(sys::socket(af, ty, 0).map_err(|e| format!("socket {i}: {e:?}"))?);
            }
            drop(fds);
            Ok(())
        }),
        Case::new("module: rmmod refused while a socket exists, unloads after close", move || {
            let fd = sys::socket(af, libc::SOCK_DGRAM, 0).map_err(|e| format!("{e:?}"))?;
            let refused = sys::delete_module("mcast_unix");
            ensure!(
                matches!(refused, Err(Errno(libc::EWOULDBLOCK)) | Err(Errno(libc::EBUSY))),
                "rmmod with a socket open: {refused:?}"
            );
            // The family still works after the refusal.
            ensure!(sys::socket(af, libc::SOCK_SEQPACKET, 0).is_ok());
            drop(fd);
            expect_eq("rmmod after close", sys::unload_module("mcast_unix"), Ok(()))?;
            expect_eq("socket after rmmod", sys::socket(af, libc::SOCK_DGRAM, 0).err(), Some(Errno(libc::EAFNOSUPPORT)))?;
            expect_eq("insmod again", sys::load_module(MODULE, ""), Ok(()))?;
            ensure!(sys::socket(af, libc::SOCK_DGRAM, 0).is_ok());
            Ok(())
        }),
        Case::new("module: insmod with a taken family -> EEXIST and one dmesg line", move || {
            expect_eq("rmmod", sys::unload_module("mcast_unix"), Ok(()))?;
            let before = kmsg_count("already registered");
            let r = sys::load_module(MODULE, &format!("family={}", libc::AF_UNIX));
            let after = kmsg_count("already registered");
            // Leave the module loaded for the cases after this one.
            expect_eq("reload", sys::load_module(MODULE, ""), Ok(()))?;
            expect_eq("insmod family=AF_UNIX", r, Err(Errno(libc::EEXIST)))?;
            expect_eq("dmesg lines", after - before, 1)
        }),
        Case::new("module: insmod with family out of range -> EINVAL", move || {
            expect_eq("rmmod", sys::unload_module("mcast_unix"), Ok(()))?;
            let r0 = sys::load_module(MODULE, "family=0");
            let rmax = sys::load_module(MODULE, "family=46");
            expect_eq("reload", sys::load_module(MODULE, ""), Ok(()))?;
            expect_eq("family=0", r0, Err(Errno(libc::EINVAL)))?;
            expect_eq("family=AF_MAX", rmax, Err(Errno(libc::EINVAL)))
        }),
        Case::new("module: another free family number works and is reported", move || {
            expect_eq("rmmod", sys::unload_module("mcast_unix"), Ok(()))?;
            let r = sys::load_module(MODULE, "family=27");
            let seen = mcast_unix::family().ok();
            let works = sys::socket(27, libc::SOCK_DGRAM, 0).map(|fd| sys::getsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_DOMAIN));
            let _ = sys::unload_module("mcast_unix");
            expect_eq("reload", sys::load_module(MODULE, ""), Ok(()))?;
            expect_eq("insmod family=27", r, Ok(()))?;
            expect_eq("sysfs", seen, Some(27))?;
            expect_eq("SO_DOMAIN", works, Ok(Ok(27)))
        }),
    ]
}

/// How many kernel log records contain `needle`.
fn kmsg_count(needle: &str) -> usize {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut f) = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg") else {
        return 0;
    };
    let mut count = 0;
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => count += String::from_utf8_lossy(&buf[..n]).contains(needle) as usize,
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue, // overwritten records
            Err(_) => break,
        }
    }
    count
}
