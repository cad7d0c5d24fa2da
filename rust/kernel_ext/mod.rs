// SPDX-License-Identifier: GPL-2.0

//! The kernel as chpox sees it: small typed wrappers around the kernel
//! objects and calls the module uses that the `kernel` crate of 6.12 does
//! not cover, in its style (`Opaque`, `ARef`, borrowing lock guards,
//! `# Invariants`). This is the only place that touches `bindings`; the
//! checkpoint and restore logic above it is safe Rust.

pub(crate) mod bindings;
pub(crate) mod cred;
pub(crate) mod dir;
pub(crate) mod errno;
pub(crate) mod exe;
pub(crate) mod file;
pub(crate) mod inject;
pub(crate) mod irq_lock;
pub(crate) mod mm;
pub(crate) mod pid;
pub(crate) mod pipe;
pub(crate) mod proc_file;
pub(crate) mod ptrace;
pub(crate) mod random;
pub(crate) mod rcu;
pub(crate) mod regs;
pub(crate) mod restart;
pub(crate) mod signal;
pub(crate) mod signal_probe;
pub(crate) mod socket;
pub(crate) mod system;
pub(crate) mod task;
pub(crate) mod task_work;
pub(crate) mod tracepoint;
pub(crate) mod zstd;
