//! A small TAP runner.
//!
//! A case is a function returning `Ok(())` or a message; the runner prints
//! `ok N - name` / `not ok N - name` with the message as a TAP diagnostic. Cases
//! run in order in one process (some, like module reload, depend on it).
//! A filter (first command-line argument) selects cases whose name contains it.

use std::fmt::Debug;
use std::time::Instant;

pub type CaseResult = Result<(), String>;

/// What [`skip`] puts in front of its reason (not printable, so no real
/// failure message starts with it).
const SKIP_MARK: &str = "\u{1}SKIP ";

/// Ends a case as skipped: the runner prints `ok N - name # SKIP reason`.
pub fn skip(reason: &str) -> CaseResult {
    Err(format!("{SKIP_MARK}{reason}"))
}

pub struct Case {
    pub name: String,
    pub run: Box<dyn Fn() -> CaseResult>,
}

impl Case {
    pub fn new(name: impl Into<String>, run: impl Fn() -> CaseResult + 'static) -> Case {
        Case { name: name.into(), run: Box::new(run) }
    }
}

/// Runs the cases as TAP; returns the number that failed.
pub fn run(cases: Vec<Case>, filter: Option<&str>) -> usize {
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        .collect();
    println!("TAP version 13");
    println!("1..{}", cases.len());
    let mut failed = 0;
    for (i, case) in cases.iter().enumerate() {
        let start = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.run)()))
            .unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked: {msg}"))
            });
        let ms = start.elapsed().as_millis();
        match result {
            Ok(()) => println!("ok {} - {} # {} ms", i + 1, case.name, ms),
            Err(msg) if msg.starts_with(SKIP_MARK) => {
                println!("ok {} - {} # SKIP {}", i + 1, case.name, &msg[SKIP_MARK.len()..]);
            }
            Err(msg) => {
                failed += 1;
                println!("not ok {} - {}", i + 1, case.name);
                for line in msg.lines() {
                    println!("# {line}");
                }
            }
        }
    }
    failed
}

/// Fails the case with a message unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), stringify!($cond)));
        }
    };
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($msg)+)));
        }
    };
}

/// Compares two values, failing with both shown.
pub fn expect_eq<T: PartialEq + Debug>(what: &str, got: T, want: T) -> CaseResult {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Pushes a case named `PREFIX: NAME` whose body gets the family number:
/// `case!(v, "group", "name", |af| { ... })`.
#[macro_export]
macro_rules! case {
    ($v:ident, $prefix:literal, $name:expr, |$af:ident| $body:block) => {
        $v.push($crate::harness::Case::new(concat!($prefix, ": ", $name), move || -> $crate::harness::CaseResult {
            let $af = $af;
            $body
        }));
    };
}
