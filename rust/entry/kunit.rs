// SPDX-License-Identifier: GPL-2.0

//! Bridge from the C KUnit suite (`tests/kunit/mcast_unix_kunit.c`) to the
//! Rust cases ([`crate::kunit::case`]).

use crate::sys::bindings;
use kernel::ffi::{c_char, c_int, c_long};
use kernel::fmt;
use kernel::str::CString;

/// The name of Rust case `i`, or NULL past the last (the C parameter
/// generator stops there).
#[no_mangle]
pub(crate) extern "C" fn mcast_kunit_case_name(i: c_long) -> *const c_char {
    usize::try_from(i).ok().and_then(crate::kunit::case).map_or(core::ptr::null(), |c| c.name.as_char_ptr())
}

/// Runs Rust case `i` and reports a failure to KUnit.
///
/// # Safety
///
/// Called by the C suite only: `test` is the running case's `struct kunit`.
#[no_mangle]
pub(crate) unsafe extern "C" fn mcast_kunit_run(test: *mut bindings::kunit, i: c_long) {
    let Some(case) = usize::try_from(i).ok().and_then(crate::kunit::case) else {
        return;
    };
    let Err(failure) = (case.run)() else { return };
    let (Ok(file), Ok(what)) = (
        CString::try_from_fmt(fmt!("{}", failure.file)),
        CString::try_from_fmt(fmt!("{}", failure.what)),
    ) else {
        return;
    };
    // SAFETY: `test` is the running case (caller's contract); both strings are
    // NUL-terminated and outlive the call, which copies them into the log.
    unsafe {
        bindings::mcast_kunit_fail(test, file.as_char_ptr(), failure.line as c_int, what.as_char_ptr())
    };
}
