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
pub(crate) use memory::PageCompressor;
pub(crate) use objects::Objects;

use crate::failure::{At, Step, StepResult};
use crate::writer::DumpFile;

/// Writes the sections of the current process that all its `threads`
/// share; its open files join `objects`.
pub(crate) fn write_process(
    out: &mut DumpFile,
    objects: &mut Objects,
    threads: u32,
) -> StepResult<()> {
    process::write(out, threads).at(Step::Process)?;
    zombies::write(out).at(Step::Zombies)?;
    memory::write(out)?;
    signals::write(out).at(Step::Signals)?;
    files::write(out, objects).at(Step::Files)?;
    Ok(())
}

/// Writes the section of the current thread.
pub(crate) fn write_thread(out: &mut DumpFile) -> StepResult<()> {
    thread::write(out).at(Step::Registers)
}
