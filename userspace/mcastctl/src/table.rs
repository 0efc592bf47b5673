//! `/proc/net/mcast_unix` read into rows and printed as aligned tables.
//!
//! The file (Documentation/mcast_unix.md, "Observability") has a header and
//! one line per socket, `S inode type state role address groups rmem drops`,
//! then a header and one line per group, `G address type members sent
//! dropped`. Addresses hold no spaces (the kernel escapes them as `\xNN`),
//! so fields split at whitespace. Extra trailing fields are ignored, so a
//! later module may add columns.

/// Where the listing is.
pub const PROC_FILE: &str = "/proc/net/mcast_unix";

/// One `S` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockRow {
    pub inode: u64,
    pub ty: String,
    pub state: String,
    pub role: String,
    pub address: String,
    pub groups: u64,
    pub rmem: u64,
    pub drops: u64,
}

/// One `G` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub address: String,
    pub ty: String,
    pub members: u64,
    pub sent: u64,
    pub dropped: u64,
}

/// The whole listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listing {
    pub sockets: Vec<SockRow>,
    pub groups: Vec<GroupRow>,
}

/// Which parts to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    All,
    Sockets,
    Groups,
}

impl Listing {
    /// Parses the file's text; an error names the line.
    pub fn parse(text: &str) -> Result<Listing, String> {
        let mut out = Listing::default();
        for (n, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let bad = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
            let num = |i: usize| -> Result<u64, String> {
                f[i].parse()
                    .map_err(|_| bad(&format!("field {} is not a number", i + 1)))
            };
            match f.first().copied() {
                None => {}
                // The two header lines.
                Some("S") if f.get(1) == Some(&"inode") => {}
                Some("G") if f.get(1) == Some(&"address") => {}
                Some("S") if f.len() >= 9 => out.sockets.push(SockRow {
                    inode: num(1)?,
                    ty: f[2].into(),
                    state: f[3].into(),
                    role: f[4].into(),
                    address: f[5].into(),
                    groups: num(6)?,
                    rmem: num(7)?,
                    drops: num(8)?,
                }),
                Some("G") if f.len() >= 6 => out.groups.push(GroupRow {
                    address: f[1].into(),
                    ty: f[2].into(),
                    members: num(3)?,
                    sent: num(4)?,
                    dropped: num(5)?,
                }),
                Some("S") | Some("G") => return Err(bad("too few fields")),
                Some(_) => return Err(bad("not an S or G line")),
            }
        }
        Ok(out)
    }

    /// The group at `address` (as the file prints it).
    pub fn group(&self, address: &str) -> Option<&GroupRow> {
        self.groups.iter().find(|g| g.address == address)
    }

    /// The socket with inode `inode`.
    pub fn socket(&self, inode: u64) -> Option<&SockRow> {
        self.sockets.iter().find(|s| s.inode == inode)
    }

    /// The tables `show` asks for.
    pub fn render(&self, show: Show) -> String {
        let mut out = String::new();
        if show != Show::Groups {
            out += &format!("SOCKETS ({})\n", self.sockets.len());
            let rows = self.sockets.iter().map(|s| {
                vec![
                    s.inode.to_string(),
                    s.ty.clone(),
                    s.state.clone(),
                    s.role.clone(),
                    s.address.clone(),
                    s.groups.to_string(),
                    s.rmem.to_string(),
                    s.drops.to_string(),
                ]
            });
            out += &table(&SOCK_COLUMNS, rows.collect());
        }
        if show == Show::All {
            out.push('\n');
        }
        if show != Show::Sockets {
            out += &format!("GROUPS ({})\n", self.groups.len());
            let rows = self.groups.iter().map(|g| {
                vec![
                    g.address.clone(),
                    g.ty.clone(),
                    g.members.to_string(),
                    g.sent.to_string(),
                    g.dropped.to_string(),
                ]
            });
            out += &table(&GROUP_COLUMNS, rows.collect());
        }
        out
    }
}

/// A column: its heading and whether it holds numbers (right-aligned).
type Column = (&'static str, bool);

const SOCK_COLUMNS: [Column; 8] = [
    ("INODE", true),
    ("TYPE", false),
    ("STATE", false),
    ("ROLE", false),
    ("ADDRESS", false),
    ("GROUPS", true),
    ("RMEM", true),
    ("DROPS", true),
];

const GROUP_COLUMNS: [Column; 5] = [
    ("ADDRESS", false),
    ("TYPE", false),
    ("MEMBERS", true),
    ("SENT", true),
    ("DROPPED", true),
];

/// Rows under headings, columns two spaces apart, indented by two; `(none)`
/// for no rows.
fn table(columns: &[Column], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "  (none)\n".into();
    }
    let width: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (head, _))| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = " ".repeat(width[i] - cell.chars().count());
            let numeric = columns[i].1;
            s += &format!(
                "  {}{cell}{}",
                if numeric { &pad } else { "" },
                if numeric { "" } else { &pad }
            );
        }
        s.truncate(s.trim_end().len());
        s + "\n"
    };
    let mut out = line(columns.iter().map(|c| c.0).collect());
    for r in &rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Documentation/mcast_unix.md.
    const DOC: &str = "S inode type state role address groups rmem drops
S 131 dgram unconnected owner @grp 0 0 0
S 133 dgram unconnected member - 1 213248 12
G address type members sent dropped
G @grp dgram 1 240 12
";

    #[test]
    fn parses_the_documented_example() {
        let l = Listing::parse(DOC).unwrap();
        assert_eq!(l.sockets.len(), 2);
        assert_eq!(
            l.sockets[1],
            SockRow {
                inode: 133,
                ty: "dgram".into(),
                state: "unconnected".into(),
                role: "member".into(),
                address: "-".into(),
                groups: 1,
                rmem: 213248,
                drops: 12,
            }
        );
        assert_eq!(
            l.groups,
            [GroupRow {
                address: "@grp".into(),
                ty: "dgram".into(),
                members: 1,
                sent: 240,
                dropped: 12
            }]
        );
        assert_eq!(l.group("@grp").map(|g| g.members), Some(1));
        assert_eq!(l.group("grp"), None);
        assert_eq!(l.socket(131).map(|s| s.role.as_str()), Some("owner"));
    }

    #[test]
    fn renders_aligned_tables() {
        let l = Listing::parse(DOC).unwrap();
        let want = "\
SOCKETS (2)
  INODE  TYPE   STATE        ROLE    ADDRESS  GROUPS    RMEM  DROPS
    131  dgram  unconnected  owner   @grp          0       0      0
    133  dgram  unconnected  member  -             1  213248     12

GROUPS (1)
  ADDRESS  TYPE   MEMBERS  SENT  DROPPED
  @grp     dgram        1   240       12
";
        assert_eq!(l.render(Show::All), want);
        assert!(l.render(Show::Groups).starts_with("GROUPS (1)\n"));
        assert!(!l.render(Show::Groups).contains("SOCKETS ("));
        assert!(!l.render(Show::Sockets).contains("GROUPS ("));
    }

    #[test]
    fn empty_listing() {
        let l = Listing::parse("S inode type state role address groups rmem drops\nG address type members sent dropped\n")
            .unwrap();
        assert_eq!(l, Listing::default());
        assert_eq!(
            l.render(Show::All),
            "SOCKETS (0)\n  (none)\n\nGROUPS (0)\n  (none)\n"
        );
    }

    #[test]
    fn extra_fields_are_ignored() {
        let l = Listing::parse(
            "S 7 seqpacket listening owner @bus 0 0 0 future\nG @bus seqpacket 2 5 0 x y\n",
        )
        .unwrap();
        assert_eq!(l.sockets[0].state, "listening");
        assert_eq!(l.groups[0].members, 2);
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let e = Listing::parse("S inode type state role address groups rmem drops\nS 1 dgram\n")
            .unwrap_err();
        assert!(e.starts_with("line 2: too few fields"), "{e}");
        let e = Listing::parse("G @g dgram many 0 0\n").unwrap_err();
        assert!(e.contains("field 4 is not a number"), "{e}");
        assert!(Listing::parse("X 1 2 3\n")
            .unwrap_err()
            .contains("not an S or G line"));
    }
}
