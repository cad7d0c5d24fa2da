// SPDX-License-Identifier: GPL-2.0

//! Dumping the current process, one file per kind of resource, in the
//! order `ld-chpox` restores them.

mod clocks;
mod files;
mod memory;
mod objects;
mod pipes;
mod process;
mod registers;
mod signals;
mod sockets;
mod zombies;

pub(crate) use clocks::write_clocks;
pub(crate) use objects::Objects;

use crate::failure::{At, Step, StepResult};
use crate::writer::DumpFile;

/// Writes every section of the current process; its open files join
/// `objects`.
pub(crate) fn write_current(out: &mut DumpFile, objects: &mut Objects) -> StepResult<()> {
    process::write(out).at(Step::Process)?;
    zombies::write(out).at(Step::Zombies)?;
    memory::write(out)?;
    registers::write(out).at(Step::Registers)?;
    signals::write(out).at(Step::Signals)?;
    files::write(out, objects).at(Step::Files)?;
    Ok(())
}
