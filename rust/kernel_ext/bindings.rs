// SPDX-License-Identifier: GPL-2.0

//! Kernel bindings: those of the `kernel` crate plus the few items chpox
//! generates itself from `rust/helpers/helpers.h` (see Kbuild).

#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    improper_ctypes,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

include!("bindings_generated.rs");
