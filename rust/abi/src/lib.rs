// SPDX-License-Identifier: GPL-2.0

//! What the chpox kernel module and its user-space tools share.
//!
//! This crate is compiled twice: by cargo as an ordinary library for
//! `chpoxctl` and `ld-chpox`, and by the kernel build as a module of the
//! `chpox` crate (through `#[path]`). It therefore uses `core` only, never
//! allocates and never panics on input, so the kernel can run the very same
//! parser on bytes a user wrote.

#![cfg_attr(not(MODULE), no_std)]

#[cfg(test)]
extern crate std;

pub mod checksum;
pub mod dump;
pub use dump::ipc;
pub mod registration;
pub mod signal;
pub mod sink;
