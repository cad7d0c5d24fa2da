// SPDX-License-Identifier: GPL-2.0

//! A file the restore opens by its dumped path, with the restoring
//! process's credentials, held until dropped.

use crate::kernel_ext::bindings;
use crate::kernel_ext::mapped_file::File;
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

    pub(super) fn read_only(path: &[u8]) -> Result<Self> {
        Self::open(path, bindings::O_RDONLY)
    }

    /// The file, borrowed from `self`.
    pub(super) fn file(&self) -> &File {
        // SAFETY: `self` holds a reference to the file while the borrow lives.
        unsafe { File::from_raw(self.as_ptr()) }
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
