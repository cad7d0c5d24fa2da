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
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// "Operation not supported", which the `kernel` crate of 6.12 lacks.
#[allow(non_snake_case)]
pub(crate) fn EOPNOTSUPP() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// "Timed out", which the `kernel` crate of 6.12 lacks.
#[allow(non_snake_case)]
pub(crate) fn ETIMEDOUT() -> Error {
    Error::from_errno(-(bindings::ETIMEDOUT as i32))
}

/// A failed checkpoint: the step and the error.
pub(crate) struct Failure {
    pub(crate) step: &'static str,
    pub(crate) error: Error,
}

impl Failure {
    pub(crate) fn new(step: &'static str, error: Error) -> Self {
        Failure { step, error }
    }
}

pub(crate) type StepResult<T> = core::result::Result<T, Failure>;

/// Names the step of a `Result`.
trait At<T> {
    fn at(self, step: &'static str) -> StepResult<T>;
}

impl<T> At<T> for Result<T> {
    fn at(self, step: &'static str) -> StepResult<T> {
        self.map_err(|e| Failure::new(step, e))
    }
}

/// Writes every section of the current process; its open files join
/// `objects`.
pub(crate) fn write_current(out: &mut DumpFile, objects: &mut Objects) -> StepResult<()> {
    process::write(out).at("process")?;
    zombies::write(out).at("zombies")?;
    memory::write(out)?;
    registers::write(out).at("registers")?;
    signals::write(out).at("signals")?;
    files::write(out, objects).at("files")?;
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

/// The current task.
pub(crate) fn current() -> *mut bindings::task_struct {
    // SAFETY: the current task is always valid.
    unsafe { bindings::get_current() }
}
