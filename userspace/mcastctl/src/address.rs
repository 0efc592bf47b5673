//! Addresses on the command line: `@name` for an abstract name, anything
//! else a pathname; and the way `/proc/net/mcast_unix` prints them.

use mcast_unix::Addr;

/// Parses a command-line address. After `@`, `\xNN` stands for the byte
/// 0xNN, as `/proc/net/mcast_unix` prints unprintable bytes (so a name
/// copied from `mcastctl stat` works); a pathname is taken as written.
pub fn parse(s: &str) -> Result<Addr, String> {
    if s.is_empty() {
        return Err("an address is @name (abstract) or a path, not empty".into());
    }
    let Some(name) = s.strip_prefix('@') else {
        return Addr::path(s).map_err(|e| e.to_string());
    };
    if name.is_empty() {
        return Err("an abstract name needs at least one byte after '@'".into());
    }
    Addr::abstract_(unescape(name)).map_err(|e| e.to_string())
}

/// `\xNN` to the byte 0xNN; every other byte, a lone `\` included, as is.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = match b[i..] {
            [b'\\', b'x', h, l, ..] => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `a` as `/proc/net/mcast_unix` shows it: `@` and the name for an abstract
/// address, the path for a pathname, bytes other than printable ASCII (and
/// `\`) as `\xNN`; `-` for the unnamed address.
pub fn proc_form(a: &Addr) -> String {
    let (prefix, bytes) = match (a.as_abstract(), a.as_path()) {
        (Some(name), _) => ("@", name.to_vec()),
        (None, Some(p)) => (
            "",
            std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec(),
        ),
        (None, None) => return "-".into(),
    };
    let mut s = String::from(prefix);
    for c in bytes {
        if c.is_ascii_graphic() && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_and_path() {
        assert_eq!(parse("@bus").unwrap(), Addr::abstract_("bus").unwrap());
        assert_eq!(parse("/run/bus").unwrap(), Addr::path("/run/bus").unwrap());
        assert_eq!(parse("rel/bus").unwrap(), Addr::path("rel/bus").unwrap());
    }

    #[test]
    fn escapes_in_abstract_names() {
        assert_eq!(
            parse(r"@a\x00b\x20c").unwrap(),
            Addr::abstract_(b"a\0b c").unwrap()
        );
        // Not an escape: kept as written.
        assert_eq!(
            parse(r"@a\xzz\").unwrap(),
            Addr::abstract_(br"a\xzz\").unwrap()
        );
        assert_eq!(parse(r"@\x4").unwrap(), Addr::abstract_(br"\x4").unwrap());
        // Paths are literal.
        assert_eq!(
            parse(r"/tmp/a\x41").unwrap(),
            Addr::path(r"/tmp/a\x41").unwrap()
        );
    }

    #[test]
    fn rejected() {
        assert!(parse("").is_err());
        assert!(parse("@").is_err());
        assert!(parse(&format!("@{}", "n".repeat(108))).is_err());
        assert!(parse(&"p".repeat(109)).is_err());
    }

    #[test]
    fn proc_form_round_trips() {
        for s in ["@grp", r"@a\x00b\x20c\x5c", "/tmp/g", "-"] {
            let a = if s == "-" {
                Addr::unnamed()
            } else {
                parse(s).unwrap()
            };
            assert_eq!(proc_form(&a), s);
        }
    }
}
