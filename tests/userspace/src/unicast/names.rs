//! bind(), autobind, getsockname() and getpeername().

use super::*;
use crate::ensure;
use crate::sys::{AddrOp, Child};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub fn cases(mode: Mode) -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(per_type(mode, "bind to a pathname creates a socket inode", |f, o, ty| {
        let s = sock(f, ty)?;
        o.note("bind", s.bind(&f.path("s")).sys());
        let meta = io(std::fs::symlink_metadata(fs_path(f, "s")), "stat")?;
        o.note("is a socket inode", meta.file_type().is_socket());
        o.note("permissions", format!("{:o}", meta.mode() & 0o7777));
        o.note("getsockname", sockname(f, &s));
        drop(s);
        o.note("still there after close", exists(f, "s"));
        Ok(())
    }));
    v.extend(per_type(mode, "bind to an abstract name", |f, o, ty| {
        let s = sock(f, ty)?;
        o.note("bind", s.bind(&f.abstract_("s")).sys());
        o.note("getsockname", sockname(f, &s));
        o.note("files created", io(std::fs::read_dir(&f.dir), "readdir")?.count());
        Ok(())
    }));
    v.extend(per_type(mode, "autobind when addrlen is sizeof(sa_family_t)", |f, o, ty| {
        let a = sock(f, ty)?;
        let b = sock(f, ty)?;
        o.note("bind a", a.bind(&Addr::unnamed()).sys());
        o.note("bind b", b.bind(&Addr::unnamed()).sys());
        o.note("getsockname a", sockname(f, &a));
        let (na, nb) = (a.local_addr().sys().ctx("a")?, b.local_addr().sys().ctx("b")?);
        o.note("names differ", na != nb);
        // The name is reachable like any abstract name.
        if ty == DGRAM {
            o.note("sendto a's name", b.send_to(b"x", &na).sys());
            o.note("a receives from", recv_from(f, &a, 8, libc::MSG_DONTWAIT));
        } else {
            o.note("listen", a.listen(1).sys());
            let c = sock(f, ty)?;
            o.note("connect to a's name", c.connect(&na).sys());
        }
        Ok(())
    }));
    v.extend(per_type(mode, "autobind on a bound socket succeeds and changes nothing", |f, o, ty| {
        let s = bound(f, ty, &f.path("s"))?;
        o.note("autobind after bind", s.bind(&Addr::unnamed()).sys());
        o.note("getsockname", sockname(f, &s));
        let t = sock(f, ty)?;
        t.bind(&Addr::unnamed()).sys().ctx("autobind")?;
        let before = t.local_addr().sys().ctx("getsockname")?;
        o.note("autobind again", t.bind(&Addr::unnamed()).sys());
        o.note("name unchanged", t.local_addr().sys().ctx("getsockname")? == before);
        o.note("explicit bind after autobind", t.bind(&f.path("t")).sys());
        Ok(())
    }));
    v.extend(per_type(mode, "binding a bound socket again -> EINVAL", |f, o, ty| {
        let s = bound(f, ty, &f.path("first"))?;
        o.note("bind another path", s.bind(&f.path("second")).sys());
        o.note("second path left behind", exists(f, "second"));
        o.note("bind an abstract name", s.bind(&f.abstract_("x")).sys());
        o.note("bind the same path", s.bind(&f.path("first")).sys());
        let t = bound(f, ty, &f.abstract_("t"))?;
        o.note("abstract, then a path", t.bind(&f.path("third")).sys());
        o.note("third path left behind", exists(f, "third"));
        o.note("getsockname", sockname(f, &s));
        Ok(())
    }));
    v.extend(per_type(mode, "bind to a taken address -> EADDRINUSE", |f, o, ty| {
        let _p = bound(f, ty, &f.path("p"))?;
        let _a = bound(f, ty, &f.abstract_("a"))?;
        let s = sock(f, ty)?;
        o.note("bind the taken path", s.bind(&f.path("p")).sys());
        o.note("bind the taken abstract name", s.bind(&f.abstract_("a")).sys());
        o.note("still unbound", sockname(f, &s));
        o.note("bind a free name", s.bind(&f.abstract_("b")).sys());
        Ok(())
    }));
    v.push(case(mode, "both: abstract names are per socket type, paths are shared", |f, o| {
        let d = bound(f, DGRAM, &f.abstract_("n"))?;
        let s = sock(f, SEQPACKET)?;
        o.note("seqpacket binds the dgram's abstract name", s.bind(&f.abstract_("n")).sys());
        o.note("dgram binds it again", sock(f, DGRAM).map(|t| t.bind(&f.abstract_("n")).sys())?);
        let _ = s.listen(1).sys();
        let c = sock(f, SEQPACKET)?;
        o.note("seqpacket connect to the name", c.connect(&f.abstract_("n")).sys());
        let tx = sock(f, DGRAM)?;
        o.note("dgram sendto the name", tx.send_to(b"d", &f.abstract_("n")).sys());
        o.note("the dgram socket receives", recv_text(&d, libc::MSG_DONTWAIT));
        let _p = bound(f, DGRAM, &f.path("p"))?;
        o.note("seqpacket binds the dgram's path", sock(f, SEQPACKET).map(|t| t.bind(&f.path("p")).sys())?);
        Ok(())
    }));
    v.extend(per_type(mode, "bind where a file, directory or symlink exists -> EADDRINUSE", |f, o, ty| {
        io(std::fs::write(fs_path(f, "file"), b"x"), "create file")?;
        io(std::fs::create_dir(fs_path(f, "dir")), "mkdir")?;
        io(std::os::unix::fs::symlink(fs_path(f, "nowhere"), fs_path(f, "link")), "symlink")?;
        for name in ["file", "dir", "link"] {
            let s = sock(f, ty)?;
            o.note(name, s.bind(&f.path(name)).sys());
        }
        o.note("file kept", io(std::fs::read(fs_path(f, "file")), "read")?);
        o.note("symlink target created", exists(f, "nowhere"));
        Ok(())
    }));
    v.extend(per_type(mode, "bind in a missing directory -> ENOENT, under a file -> ENOTDIR", |f, o, ty| {
        io(std::fs::write(fs_path(f, "file"), b"x"), "create file")?;
        o.note("missing directory", sock(f, ty).map(|s| s.bind(&f.path("missing/s")).sys())?);
        o.note("under a regular file", sock(f, ty).map(|s| s.bind(&f.path("file/s")).sys())?);
        Ok(())
    }));
    v.extend(per_type(mode, "bind, connect and sendto with addrlen 0, 1 and beyond sockaddr_un", |f, o, ty| {
        let size = std::mem::size_of::<libc::sockaddr_un>() as u32;
        for len in [0, 1, size + 1, 128, 129, 4096] {
            for op in [AddrOp::Bind, AddrOp::Connect, AddrOp::SendTo] {
                let s = sock(f, ty)?;
                o.note(&format!("{op:?} addrlen {len}"), sys::addr_op_len(op, &s, &f.raw(&f.path("s")), len));
            }
        }
        o.note("nothing created", !exists(f, "s"));
        Ok(())
    }));
    v.extend(per_type(mode, "bind with a foreign sun_family -> EINVAL", |f, o, ty| {
        // For the family, AF_UNIX is as foreign as AF_INET.
        let foreign = if f.af == libc::AF_UNIX { libc::AF_INET6 } else { libc::AF_UNIX };
        for (name, fam) in [("AF_UNSPEC", libc::AF_UNSPEC), ("AF_INET", libc::AF_INET), ("other unix family", foreign)]
        {
            let a = SockAddr::of(fam, &f.path("s"));
            o.note(&format!("{name} with a path"), sock(f, ty).map(|s| sys::addr_op(AddrOp::Bind, &s, &a))?);
            o.note(&format!("{name}, family only"), sock(f, ty).map(|s| sys::addr_op(AddrOp::Bind, &s, &SockAddr::of(fam, &Addr::unnamed())))?);
        }
        o.note("nothing created", !exists(f, "s"));
        Ok(())
    }));
    v.extend(per_type(mode, "bind a 108-byte path without a terminating NUL", |f, o, ty| {
        let dir_part = f.dir.len() + 1;
        ensure!(dir_part < 100, "directory name too long: {}", f.dir);
        let name = "n".repeat(108 - dir_part);
        let a = io(Addr::path(fs_path(f, &name)), "108-byte path")?;
        ensure!(f.raw(&a).len as usize == std::mem::size_of::<libc::sockaddr_un>(), "unterminated");
        let s = sock(f, ty)?;
        o.note("bind", s.bind(&a).sys());
        o.note("socket inode exists", exists(f, &name));
        o.note("getsockname", sockname(f, &s));
        let c = sock(f, ty)?;
        if ty == DGRAM {
            o.note("sendto it", c.send_to(b"long", &a).sys());
            o.note("received", recv_text(&s, libc::MSG_DONTWAIT));
        } else {
            o.note("listen", s.listen(1).sys());
            o.note("connect to it", c.connect(&a).sys());
            o.note("client's getpeername", peername(f, &c));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "bind as non-root in a directory without write permission -> EACCES", |f, o, ty| {
        searchable(f)?;
        for (dir, mode) in [("ro", 0o755), ("rw", 0o777)] {
            io(std::fs::create_dir(fs_path(f, dir)), "mkdir")?;
            chmod(f, dir, mode)?;
            let target = f.path(&format!("{dir}/s"));
            let child = Child::spawn(true, || f.socket(ty)?.bind(&target).sys()).ctx("fork")?;
            o.note(&format!("bind in a {mode:o} directory"), child.wait()?);
        }
        let owner = io(std::fs::symlink_metadata(fs_path(f, "rw/s")), "stat")?;
        o.note("owner of the created inode", (owner.uid(), owner.gid()));
        let abs = f.abstract_("nobody");
        let child = Child::spawn(true, || f.socket(ty)?.bind(&abs).sys()).ctx("fork")?;
        o.note("abstract bind as non-root", child.wait()?);
        Ok(())
    }));
    v.push(case(mode, "dgram: bind after connect", |f, o| {
        let b = bound(f, DGRAM, &f.path("b"))?;
        let a = sock(f, DGRAM)?;
        a.connect(&f.path("b")).sys().ctx("connect")?;
        o.note("bind after connect", a.bind(&f.path("a")).sys());
        o.note("getsockname", sockname(f, &a));
        o.note("getpeername", peername(f, &a));
        o.note("send", a.send_with_flags(b"hi", 0).sys());
        o.note("peer sees the new name", recv_from(f, &b, 8, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.push(case(mode, "seqpacket: bind after connect", |f, o| {
        let (c, s) = seq_pair(f, "srv")?;
        o.note("accepted's peer before", peername(f, &s));
        o.note("bind after connect", c.bind(&f.path("c")).sys());
        o.note("client's getsockname", sockname(f, &c));
        o.note("accepted's peer after", peername(f, &s));
        o.note("send", c.send_with_flags(b"hi", 0).sys());
        o.note("accepted receives from", recv_from(f, &s, 8, libc::MSG_DONTWAIT));
        Ok(())
    }));
    v.extend(per_type(mode, "getsockname and getpeername of unbound and unconnected sockets", |f, o, ty| {
        let s = sock(f, ty)?;
        o.note("getsockname unbound", sockname(f, &s));
        o.note("getpeername unconnected", peername(f, &s));
        s.bind(&f.abstract_("s")).sys().ctx("bind")?;
        o.note("getsockname bound", sockname(f, &s));
        o.note("getpeername bound", peername(f, &s));
        if ty == SEQPACKET {
            s.listen(1).sys().ctx("listen")?;
            o.note("getpeername listening", peername(f, &s));
        }
        Ok(())
    }));
    v.extend(per_type(mode, "a closed socket frees its abstract name; its path stays until unlinked", |f, o, ty| {
        drop(bound(f, ty, &f.abstract_("a"))?);
        drop(bound(f, ty, &f.path("p"))?);
        o.note("bind the abstract name again", sock(f, ty).map(|s| s.bind(&f.abstract_("a")).sys())?);
        o.note("bind the path again", sock(f, ty).map(|s| s.bind(&f.path("p")).sys())?);
        io(std::fs::remove_file(fs_path(f, "p")), "unlink")?;
        o.note("bind the path after unlink", sock(f, ty).map(|s| s.bind(&f.path("p")).sys())?);
        Ok(())
    }));
    v.extend(per_type(mode, "abstract names use every addrlen byte, paths stop at the NUL", |f, o, ty| {
        let short = f.abstract_("n");
        let long = f.abstract_("n\0"); // the same name with a trailing NUL byte
        let a = bound(f, ty, &short)?;
        let b = sock(f, ty)?;
        o.note("bind the name plus a NUL", b.bind(&long).sys());
        o.note("getsockname short", sockname(f, &a));
        o.note("getsockname long", sockname(f, &b));
        let mut padded = SockAddr::raw(f.af, format!("{}/p\0junk", f.dir).as_bytes());
        padded.len = std::mem::size_of::<libc::sockaddr_un>() as _;
        let p = sock(f, ty)?;
        o.note("bind a path followed by junk", sys::addr_op(AddrOp::Bind, &p, &padded));
        o.note("getsockname", sockname(f, &p));
        o.note("the plain path is taken", sock(f, ty).map(|t| t.bind(&f.path("p")).sys())?);
        Ok(())
    }));
    v
}
