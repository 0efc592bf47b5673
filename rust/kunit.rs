// SPDX-License-Identifier: GPL-2.0

//! KUnit cases of the module's Rust code.
//!
//! 6.12 has no `#[kunit_tests]`, so the C suite (`tests/kunit/mcast_unix_kunit.c`)
//! has one parameterised case whose parameters are the Rust cases: it walks
//! [`case`] by index, names each run after the case and calls it. A case is
//! registered once, next to its function: each tests module ends with
//! [`kunit_cases!`](crate::kunit_cases), and [`SUITES`] lists the modules.

use kernel::str::CStr;

/// Where and why a case failed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) what: &'static str,
}

/// What a KUnit case returns.
pub(crate) type CaseResult = core::result::Result<(), Failure>;

/// One Rust case.
pub(crate) struct Case {
    pub(crate) name: &'static CStr,
    pub(crate) run: fn() -> CaseResult,
}

/// A failure at the caller's line, saying `what` went wrong.
#[macro_export]
macro_rules! kfail {
    ($what:expr) => {
        $crate::kunit::Failure { file: file!(), line: line!(), what: $what }
    };
}

/// Fails the case unless `cond` holds.
#[macro_export]
macro_rules! kcheck {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::kfail!(stringify!($cond)));
        }
    };
}

/// Fails the case unless `a == b`.
#[macro_export]
macro_rules! kcheck_eq {
    ($a:expr, $b:expr) => {
        if $a != $b {
            return Err($crate::kfail!(concat!(stringify!($a), " == ", stringify!($b))));
        }
    };
}

/// Registers the case functions named (of the enclosing module) as its
/// `CASES`.
#[macro_export]
macro_rules! kunit_cases {
    ($($name:ident),* $(,)?) => {
        pub(crate) const CASES: &[$crate::kunit::Case] = &[
            $($crate::kunit::Case { name: kernel::c_str!(stringify!($name)), run: $name }),*
        ];
    };
}

/// The modules with cases, in the order they run.
static SUITES: &[&[Case]] = &[
    crate::address::tests::CASES,
    crate::names::tests::CASES,
    crate::socket::tests::CASES,
    crate::socket::rules::tests::CASES,
    crate::group::sockopt::tests::CASES,
    crate::group::memberships::tests::CASES,
    crate::membership::tests::CASES,
    crate::ring::tests::CASES,
    crate::util::vec::tests::CASES,
    crate::sys::rcu::tests::CASES,
];

/// Case number `i` of all the suites, in order.
pub(crate) fn case(i: usize) -> Option<&'static Case> {
    SUITES.iter().flat_map(|s| s.iter()).nth(i)
}
