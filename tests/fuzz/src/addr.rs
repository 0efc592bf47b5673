//! Socket addresses: the group addresses every thread of every process knows,
//! a small set of pathname and abstract names (so binds and connects collide
//! often), and every malformed form the address rules talk about.

use crate::rng::Rng;

/// Known group addresses: abstract `"\0fz-g0"`..`"\0fz-g7"` and pathnames
/// `/tmp/fz-g0`..`/tmp/fz-g3`. Abstract names are per type, so each index
/// names one datagram and one seqpacket group.
pub const NGROUPS: usize = 12;
const NABSTRACT: usize = 8;
/// Other names `/tmp/fz-0`.. and `"\0fz-0"`..: few, so they collide.
const NNAMES: u64 = 16;
/// offsetof(struct sockaddr_un, sun_path).
const PATH_OFF: usize = 2;
const SUN_PATH: usize = 108;

/// A `struct sockaddr_un` (or anything else) and the length to pass with it.
#[derive(Clone, Copy)]
pub struct SockAddr {
    pub bytes: [u8; 128],
    pub len: u32,
}

impl SockAddr {
    fn with_family(family: u16) -> SockAddr {
        let mut bytes = [0u8; 128];
        bytes[..2].copy_from_slice(&family.to_ne_bytes());
        SockAddr { bytes, len: 2 }
    }

    /// `"\0" name`: every byte counts.
    pub fn abstract_(family: i32, name: &[u8]) -> SockAddr {
        let mut a = SockAddr::with_family(family as u16);
        let n = name.len().min(SUN_PATH - 1);
        a.bytes[PATH_OFF + 1..PATH_OFF + 1 + n].copy_from_slice(&name[..n]);
        a.len = (PATH_OFF + 1 + n) as u32;
        a
    }

    /// A pathname; the length counts the NUL or not (both name the path).
    pub fn path(family: i32, path: &[u8], with_nul: bool) -> SockAddr {
        let mut a = SockAddr::with_family(family as u16);
        let n = path.len().min(SUN_PATH);
        a.bytes[PATH_OFF..PATH_OFF + n].copy_from_slice(&path[..n]);
        a.len = (PATH_OFF + n + (with_nul && n < SUN_PATH) as usize) as u32;
        a
    }

    /// The group address `g` (see [`NGROUPS`]).
    pub fn group(family: i32, g: usize) -> SockAddr {
        match group_path(g) {
            Some(p) => SockAddr::path(family, p.as_bytes(), true),
            None => SockAddr::abstract_(family, format!("fz-g{g}").as_bytes()),
        }
    }
}

/// The VM's temporary directory, where the fuzzer's paths live.
macro_rules! vm_tmp {
    () => {
        "/tmp"
    };
}

/// The pathname of group `g`, if it is a pathname group.
pub fn group_path(g: usize) -> Option<String> {
    (NABSTRACT..NGROUPS).contains(&g).then(|| format!("/tmp/fz-g{}", g - NABSTRACT))
}

/// A path that binds, group creation and the file system calls fight over.
pub fn random_path(rng: &mut Rng) -> String {
    if rng.chance(40) {
        format!("/tmp/fz-g{}", rng.below((NGROUPS - NABSTRACT) as u64))
    } else {
        format!("/tmp/fz-{}", rng.below(NNAMES))
    }
}

/// Paths whose lookups fail in each of the ways the address rules list
/// (inside the VM's temporary directory, which main.rs prepares).
const ODD_PATHS: [&str; 7] = [
    concat!(vm_tmp!(), "/fz-file"),    // a regular file: ECONNREFUSED, EADDRINUSE
    concat!(vm_tmp!(), "/fz-dir"),     // a directory
    concat!(vm_tmp!(), "/fz-nodir", "/x"), // ENOENT: a missing directory
    concat!(vm_tmp!(), "/fz-file", "/x"),  // ENOTDIR: under a regular file
    "/",
    vm_tmp!(),
    "relative-fz", // relative to the working directory (/, not writable for nobody)
];

/// Any address, malformed ones included; known group addresses often.
pub fn random(rng: &mut Rng, family: i32) -> SockAddr {
    let mut a = match rng.weighted(&[25, 15, 15, 8, 5, 5, 5, 4]) {
        0 => SockAddr::group(family, rng.index(NGROUPS)),
        1 => SockAddr::path(family, random_path(rng).as_bytes(), rng.chance(50)),
        2 => SockAddr::abstract_(family, format!("fz-{}", rng.below(NNAMES)).as_bytes()),
        // Autobind (bind), EINVAL elsewhere.
        3 => SockAddr::with_family(family as u16),
        4 => {
            let mut name = [0u8; SUN_PATH - 1];
            let n = rng.index(SUN_PATH);
            rng.fill(&mut name[..n]);
            SockAddr::abstract_(family, &name[..n])
        }
        // A full sun_path without a NUL (accepted), or one byte beyond it.
        5 => {
            let mut p = b"/tmp/fz-long-".to_vec();
            p.resize(SUN_PATH, b'x');
            let mut a = SockAddr::path(family, &p, false);
            if rng.chance(30) {
                a.bytes[PATH_OFF + SUN_PATH] = b'y';
                a.len += 1;
            }
            a
        }
        6 => SockAddr::path(family, rng.pick(&ODD_PATHS).as_bytes(), rng.chance(50)),
        _ => {
            let mut a = SockAddr::with_family(0);
            rng.fill(&mut a.bytes);
            a.len = rng.range(0, 128) as u32;
            a
        }
    };
    // Wrong family: AF_UNSPEC (a disconnect for connect), AF_UNIX, AF_INET,
    // the next number, garbage.
    if rng.chance(7) {
        let f: u16 = rng.pick(&[0, 1, 2, family as u16 + 1, 0xffff]);
        a.bytes[..2].copy_from_slice(&f.to_ne_bytes());
    }
    // Boundary lengths of the rules: 0..3, 108, 110 (the struct), 111, 128
    // (sockaddr_storage), 129 and beyond.
    if rng.chance(10) {
        a.len = rng.pick(&[0, 1, 2, 3, 4, 108, 109, 110, 111, 127, 128, 129, 4096, 0x7fff_ffff, u32::MAX]);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_addresses() {
        let a = SockAddr::group(13, 0);
        assert_eq!(a.len, 8);
        assert_eq!(&a.bytes[2..8], b"\0fz-g0");
        let p = SockAddr::group(13, 8);
        assert_eq!(&p.bytes[2..12], b"/tmp/fz-g0");
        assert_eq!(p.len, 2 + 10 + 1);
        assert_eq!(group_path(11).as_deref(), Some("/tmp/fz-g3"));
        assert_eq!(group_path(7), None);
    }

    #[test]
    fn names_are_clamped_to_sun_path() {
        let a = SockAddr::abstract_(13, &[b'a'; 200]);
        assert_eq!(a.len, 110);
        let full = SockAddr::path(13, &[b'a'; 108], true);
        assert_eq!(full.len, 110);
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            let a = random(&mut rng, 13);
            // Fits the buffer unless it is one of the boundary lengths the
            // kernel rejects before copying (more than 128 bytes).
            assert!(a.len <= 128 || [129, 4096, 0x7fff_ffff, u32::MAX].contains(&a.len));
        }
    }
}
