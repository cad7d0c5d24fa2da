// SPDX-License-Identifier: GPL-2.0

//! A deterministic mutation fuzzer of what the chpox kernel module parses:
//! dump files and `/proc/chpox` lines. The parsers are the sources of
//! `rust/abi`, compiled here as a module exactly as the kernel module
//! compiles them, with overflow checks on as in the kernel (see the root
//! `Cargo.toml`): any panic, overflow included, is what would be a kernel
//! BUG, and fails the run.
//!
//! `tests/fuzz.rs` runs a few thousand cases under `cargo test`; the
//! binary runs as many as asked (`make fuzz`), and in the test VM feeds
//! mutated real dumps to the real kernel module (`guest`, `make fuzz-vm`).

#[path = "../../rust/abi/src/lib.rs"]
pub mod abi;

pub mod driver;
pub mod guest;
pub mod harness;
pub mod mutate;
pub mod rng;
pub mod seeds;

/// `a + b` in this crate's code generation: overflows panic if and only if
/// overflow checks are on for the abi sources too (same crate, same
/// settings).
#[inline(never)]
pub fn add_in_this_crate(a: u64, b: u64) -> u64 {
    a + b
}
