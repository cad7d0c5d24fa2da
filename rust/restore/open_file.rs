// SPDX-License-Identifier: GPL-2.0

//! A file the restore opens by its dumped path, with the restoring
//! process's credentials, held until dropped.

use crate::kernel_ext::bindings;
use crate::writer::{c_string, check_ptr};
use core::ptr::NonNull;
use kernel::prelude::*;

pub(super) struct OpenFile(NonNull<bindings::file>);

impl OpenFile {
    /// Opens `path` (not NUL-terminated) with `flags` (`O_*`).
    pub(super) fn open(path: &[u8], flags: u32) -> Result<Self> {
        let c_path = c_string(&[path])?;
        // SAFETY: `c_path` is NUL-terminated; the file is opened with the
        // current task's credentials.
        let file = unsafe {
            bindings::filp_open(
                c_path.as_ptr().cast(),
                (flags | bindings::O_LARGEFILE) as i32,
                0,
            )
        };
        check_ptr(file).map(OpenFile)
    }

    /// The file mapped at `addr` in the current task, and the position of
    /// `addr` in it.
    pub(super) fn mapped_at(addr: u64) -> Option<(Self, i64)> {
        let mut pos = 0;
        // SAFETY: looks the address up in the current task's own mm; the
        // result is null or a reference that becomes ours.
        let file = unsafe { bindings::chpox_mapped_file(addr as usize, &mut pos) };
        NonNull::new(file).map(|f| (OpenFile(f), pos))
    }

    /// Writes `data` at `pos` as a `write()` would.
    pub(super) fn write_at(&self, data: &[u8], mut pos: i64) -> Result {
        // SAFETY: the file is held; `data` is a kernel buffer of its length.
        let n = unsafe {
            bindings::kernel_write(self.as_ptr(), data.as_ptr().cast(), data.len(), &mut pos)
        };
        match n {
            n if n < 0 => Err(Error::from_errno(n as i32)),
            n if n as usize != data.len() => Err(EIO),
            _ => Ok(()),
        }
    }

    pub(super) fn read_only(path: &[u8]) -> Result<Self> {
        Self::open(path, bindings::O_RDONLY)
    }

    /// The file, valid while `self` lives.
    pub(super) fn as_ptr(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        // SAFETY: we own the reference filp_open() returned.
        unsafe { bindings::fput(self.0.as_ptr()) }
    }
}
