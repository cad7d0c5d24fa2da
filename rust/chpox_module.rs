// SPDX-License-Identifier: GPL-2.0

//! chpox: transparent checkpoint/restart of Linux process trees.
//!
//! Loading the module creates `/proc/chpox`, through which user space
//! registers processes (see `Documentation/proc-interface.rst`). Data path:
//! a registration lives in the [`registry`] until its process exits
//! ([`exit_watch`]) or user space removes it ([`control`]). Its signal is
//! caught by the [`trigger`], which queues the [`checkpoint`]: the process
//! dumps itself ([`dump`]) into a [`writer::DumpFile`].

use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "abi/src/lib.rs"]
pub mod abi;
mod checkpoint;
mod control;
mod dump;
mod exit_watch;
mod failure;
mod freeze;
mod kernel_ext;
mod permission;
mod registry;
mod restore;
mod snapshot;
mod trigger;
mod wait;
mod writer;

module! {
    type: Chpox,
    name: "chpox",
    author: "chpox developers",
    description: "Transparent checkpoint/restart of process trees",
    license: "GPL",
}

struct Chpox {
    // Fields drop in this order: first no new commands can arrive, then no
    // signal is caught, no exit reaches the registry, and only then do its
    // entries go away.
    _control: control::ControlFile,
    _trigger: trigger::Trigger,
    _exit_watch: exit_watch::ExitWatch,
    _registry: Arc<registry::Registry>,
}

impl kernel::Module for Chpox {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        kernel_ext::restart::resolve();
        let registry = Arc::pin_init(registry::Registry::new(), GFP_KERNEL)?;
        let exit_watch = exit_watch::ExitWatch::start(registry.clone())?;
        let trigger = trigger::Trigger::start(registry.clone())?;
        let control = control::ControlFile::create(registry.clone())?;
        pr_info!("loaded, control file {}\n", abi::registration::PROC_PATH);
        Ok(Chpox {
            _control: control,
            _trigger: trigger,
            _exit_watch: exit_watch,
            _registry: registry,
        })
    }
}

impl Drop for Chpox {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
