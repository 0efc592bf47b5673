// SPDX-License-Identifier: GPL-2.0

//! Generated bindings (scripts/bindgen writes `bindings_generated.rs` here at
//! build time, from the kernel build's own bindgen flags). Lints of generated
//! code are silenced here and only here.

#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::as_underscore,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    dead_code,
    unused_imports
)]
#![cfg_attr(not(CONFIG_RUSTC_HAS_UNNECESSARY_TRANSMUTES), allow(unknown_lints))]
#![allow(unnecessary_transmutes)]

use kernel::ffi;

// Types the kernel's bindgen parameters block-list, defined as rust/bindings does.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");
