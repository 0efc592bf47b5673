// SPDX-License-Identifier: GPL-2.0

//! Bridge from the C KUnit suite (`tests/kunit/mcast_unix_kunit.c`) to the
//! Rust case table in [`crate::kunit`].

use super::bindings;
use kernel::ffi::{c_char, c_int};
use kernel::fmt;
use kernel::str::{CStr, CString};

/// Runs the Rust case `name` and reports a failure to KUnit.
///
/// # Safety
///
/// Called by the C suite only: `test` is the running case's `struct kunit`
/// and `name` a NUL-terminated string valid for the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn mcast_kunit_run(test: *mut bindings::kunit, name: *const c_char) {
    // SAFETY: the caller passes a NUL-terminated string that lives for the call.
    let name = unsafe { CStr::from_char_ptr(name) };
    let result = match name.to_str() {
        Ok(name) => crate::kunit::run(name),
        Err(_) => return,
    };
    let Err(failure) = result else { return };
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

/// Number of Rust cases, for the suite's completeness check.
#[no_mangle]
pub(crate) extern "C" fn mcast_kunit_count() -> c_int {
    crate::kunit::CASES.len() as c_int
}
