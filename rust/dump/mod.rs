// SPDX-License-Identifier: GPL-2.0

//! Dumping the current process, one file per kind of resource, in the
//! order `ld-chpox` restores them: once per process by its leader what its
//! threads share, and by every thread what it has of its own.

mod clocks;
mod files;
mod memory;
mod objects;
mod pipes;
mod process;
mod signals;
mod sockets;
mod thread;
mod zombies;

pub(crate) use clocks::write_clocks;
pub(crate) use memory::{write_deferred, DeferredPages, PageCompressor};
pub(crate) use objects::Objects;

use crate::failure::{At, Step, StepResult};
use crate::writer::DumpFile;

/// Writes the sections of the current process that all its `threads`
/// share; its open files join `objects`. With `defer_pages`, the contents
/// of its memory may be left for a forked copy of it to write: returned.
pub(crate) fn write_process(
    out: &mut DumpFile,
    objects: &mut Objects,
    threads: u32,
    defer_pages: bool,
) -> StepResult<Option<DeferredPages>> {
    process::write(out, threads).at(Step::Process)?;
    zombies::write(out).at(Step::Zombies)?;
    let deferred = memory::write(out, defer_pages)?;
    signals::write(out).at(Step::Signals)?;
    files::write(out, objects).at(Step::Files)?;
    Ok(deferred)
}

/// Writes the section of the current thread.
pub(crate) fn write_thread(out: &mut DumpFile) -> StepResult<()> {
    thread::write(out).at(Step::Registers)
}
