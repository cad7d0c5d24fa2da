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

use crate::abi::registration::PATH_MAX;
use crate::failure::{At, Step, StepResult};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

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

/// A buffer for `d_path()`.
pub(crate) struct PathBuffer(KVec<u8>);

impl PathBuffer {
    pub(crate) fn new() -> Result<Self> {
        Ok(PathBuffer(KVec::from_elem(0u8, PATH_MAX, GFP_KERNEL)?))
    }

    /// The path of `path` as its task's root sees it.
    pub(crate) fn of(&mut self, path: *const bindings::path) -> Result<&[u8]> {
        let buf = self.0.as_mut_ptr();
        // SAFETY: `path` is a live path the caller holds; the buffer is
        // PATH_MAX bytes. d_path() writes the name at its end, NUL-ended.
        let start = unsafe { bindings::d_path(path, buf.cast(), PATH_MAX as i32) };
        // SAFETY: only the pointer value is inspected.
        if unsafe { bindings::IS_ERR(start.cast()) } {
            // SAFETY: see above.
            return Err(Error::from_errno(
                unsafe { bindings::PTR_ERR(start.cast()) } as i32,
            ));
        }
        let offset = (start as usize).wrapping_sub(buf as usize);
        let tail = self.0.get(offset..).ok_or(EINVAL)?;
        let len = tail.iter().position(|&b| b == 0).ok_or(EINVAL)?;
        Ok(&tail[..len])
    }
}
