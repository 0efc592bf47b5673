// SPDX-License-Identifier: GPL-2.0

//! KUnit cases of the module's Rust code.
//!
//! 6.12 has no `#[kunit_tests]`, so the suite is a C table
//! (`tests/kunit/mcast_unix_kunit.c`) whose cases each call into Rust by name;
//! [`CASES`] maps the names to the Rust functions, which live next to the code
//! they test. The C suite checks that it lists exactly as many cases as
//! [`CASES`] holds, so a case cannot be forgotten on one side.

/// Where and why a case failed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) what: &'static str,
}

/// What a KUnit case returns.
pub(crate) type CaseResult = core::result::Result<(), Failure>;

/// Fails the case unless `cond` holds.
#[macro_export]
macro_rules! kcheck {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::kunit::Failure {
                file: file!(),
                line: line!(),
                what: stringify!($cond),
            });
        }
    };
}

/// Fails the case unless `a == b`.
#[macro_export]
macro_rules! kcheck_eq {
    ($a:expr, $b:expr) => {
        if $a != $b {
            return Err($crate::kunit::Failure {
                file: file!(),
                line: line!(),
                what: concat!(stringify!($a), " == ", stringify!($b)),
            });
        }
    };
}

/// A Rust KUnit case.
pub(crate) type CaseFn = fn() -> CaseResult;

/// Every Rust KUnit case, by the name the C suite uses.
pub(crate) static CASES: &[(&str, CaseFn)] = &[
    ("create_accepts_dgram_and_seqpacket", crate::socket::tests::create_accepts_dgram_and_seqpacket),
    ("create_refuses_other_types", crate::socket::tests::create_refuses_other_types),
    ("create_refuses_protocols", crate::socket::tests::create_refuses_protocols),
    ("rules_listen_and_connect", crate::socket::tests::rules_listen_and_connect),
    ("rules_shutdown_mirror", crate::socket::tests::rules_shutdown_mirror),
    ("name_keys_per_namespace_and_type", crate::names::tests::name_keys_per_namespace_and_type),
    ("address_lengths_and_family", crate::address::tests::address_lengths_and_family),
    ("address_pathname_is_cut_at_nul", crate::address::tests::address_pathname_is_cut_at_nul),
    ("address_full_length_path_unterminated", crate::address::tests::address_full_length_path_unterminated),
    ("address_abstract_keeps_every_byte", crate::address::tests::address_abstract_keeps_every_byte),
    ("address_autobind_name", crate::address::tests::address_autobind_name),
    ("mreq_parse_layout", crate::group::tests::mreq_parse_layout),
    ("mreq_parse_rejects_short_and_long", crate::group::tests::mreq_parse_rejects_short_and_long),
    ("memberships_slots_without_allocation", crate::group::tests::memberships_slots_without_allocation),
    ("remove_at_keeps_order", crate::vec::tests::remove_at_keeps_order),
    ("rcu_box_frees_replaced_values_after_a_grace_period", crate::sys::rcu::tests::rcu_box_frees_replaced_values_after_a_grace_period),
    ("membership_sender_skipped_unless_loopback", crate::membership::tests::membership_sender_skipped_unless_loopback),
    ("membership_drop_flag_marks_recipient", crate::membership::tests::membership_drop_flag_marks_recipient),
    ("membership_send_to_peer_copies", crate::membership::tests::membership_send_to_peer_copies),
    ("membership_add_remove_errors", crate::membership::tests::membership_add_remove_errors),
    ("membership_peer_filter_follows_the_peer", crate::membership::tests::membership_peer_filter_follows_the_peer),
];

/// Runs the case called `name`; an unknown name is a failure.
pub(crate) fn run(name: &str) -> CaseResult {
    match CASES.iter().find(|(n, _)| *n == name) {
        Some((_, case)) => case(),
        None => Err(Failure { file: file!(), line: line!(), what: "no Rust case of that name" }),
    }
}
