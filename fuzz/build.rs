// SPDX-License-Identifier: GPL-2.0

//! The abi sources are a module of this crate, as of the kernel's: they key
//! off `MODULE` as they do there (no `#![no_std]` in a module).

fn main() {
    println!("cargo::rustc-cfg=MODULE");
    println!("cargo::rerun-if-changed=build.rs");
}
