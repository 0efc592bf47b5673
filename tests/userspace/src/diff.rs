//! Differential testing against AF_UNIX.
//!
//! A differential case is a closure that runs a scenario on a [`Fam`] (a
//! family plus a private directory and abstract-name prefix) and records what
//! it observes in an [`Obs`]: return values, errnos, data, flags, addresses.
//! The runner plays the scenario once on AF_UNIX (the oracle) and once on
//! mcast_unix, and the case passes only if both runs succeed and record the
//! same observations (after replacing each run's directory and prefix with a
//! placeholder). Where the contract says the family differs from AF_UNIX, a
//! case records the difference through [`Fam::is_oracle`] and the difference
//! is listed in Documentation/mcast_unix.md.

use crate::harness::{Case, CaseResult};
use mcast_unix::Socket;
use crate::sys::{self, SockAddr, SysResult};
use mcast_unix::Addr;
use std::fmt::Debug;

/// One side of a differential run.
pub struct Fam {
    /// Address family number.
    pub af: i32,
    /// Short name used in paths and abstract names ("unix" or "mcun": equal lengths, so
    /// address lengths compare equal).
    pub tag: &'static str,
    /// A fresh directory for pathname sockets of this run.
    pub dir: String,
}

impl Fam {
    /// For a case that records a difference (none does today).
    #[allow(dead_code)]
    pub fn is_oracle(&self) -> bool {
        self.af == libc::AF_UNIX
    }

    pub fn socket(&self, ty: i32) -> SysResult<Socket> {
        sys::socket(self.af, ty, 0)
    }

    /// A pathname address `DIR/name`.
    pub fn path(&self, name: &str) -> Addr {
        Addr::path(format!("{}/{}", self.dir, name)).expect("short path")
    }

    /// `a` as a raw address of this family, for cases that spoil it.
    pub fn raw(&self, a: &Addr) -> SockAddr {
        SockAddr::of(self.af, a)
    }

    /// An abstract address `\0TAG-name`.
    pub fn abstract_(&self, name: &str) -> Addr {
        Addr::abstract_(format!("{}-{}", self.tag, name)).expect("short name")
    }
}

/// What a scenario observed, in order.
#[derive(Default)]
pub struct Obs {
    lines: Vec<String>,
}

impl Obs {
    /// Records `value` under `label`.
    pub fn note(&mut self, label: &str, value: impl Debug) {
        self.lines.push(format!("{label}: {value:?}"));
    }
}

fn run_on(af: i32, tag: &'static str, n: usize, scenario: &dyn Fn(&Fam, &mut Obs) -> CaseResult) -> Result<Vec<String>, String> {
    let dir = format!("/tmp/diff-{tag}-{n}-{}", std::process::id());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let fam = Fam { af, tag, dir: dir.clone() };
    let mut obs = Obs::default();
    let result = scenario(&fam, &mut obs);
    let _ = std::fs::remove_dir_all(&dir);
    result.map_err(|e| format!("[{tag}] {e}"))?;
    let prefix = format!("{tag}-");
    Ok(obs
        .lines
        .into_iter()
        .map(|l| l.replace(&dir, "DIR").replace(&prefix, "TAG-"))
        .collect())
}

/// Whether differential cases compare against the module's family or, on the
/// host, run the oracle twice (to check the scenarios themselves).
#[derive(Clone, Copy)]
pub enum Mode {
    /// AF_UNIX versus the family with this number.
    Against(i32),
    /// AF_UNIX versus AF_UNIX (`mcast-tests --oracle`).
    OracleOnly,
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A differential case.
pub fn case(mode: Mode, name: &str, scenario: impl Fn(&Fam, &mut Obs) -> CaseResult + 'static) -> Case {
    Case::new(format!("diff: {name}"), move || {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let oracle = run_on(libc::AF_UNIX, "unix", n, &scenario)?;
        let ours = match mode {
            Mode::Against(af) => run_on(af, "mcun", n, &scenario)?,
            Mode::OracleOnly => run_on(libc::AF_UNIX, "mcun", n, &scenario)?,
        };
        compare(&oracle, &ours)
    })
}

fn compare(oracle: &[String], ours: &[String]) -> CaseResult {
    for (i, (a, b)) in oracle.iter().zip(ours.iter()).enumerate() {
        if a != b {
            return Err(format!("observation {i} differs:\n  AF_UNIX: {a}\n  ours:    {b}"));
        }
    }
    if oracle.len() != ours.len() {
        return Err(format!(
            "AF_UNIX recorded {} observations, ours {}; first extra: {:?}",
            oracle.len(),
            ours.len(),
            oracle.get(ours.len()).or(ours.get(oracle.len()))
        ));
    }
    Ok(())
}
