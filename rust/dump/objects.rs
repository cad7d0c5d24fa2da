// SPDX-License-Identifier: GPL-2.0

//! The open files of a tree. Each open file gets one id however many
//! descriptors, in however many processes, refer to it; the pipes and unix
//! sockets among them are dumped once, after every process, while the tree
//! is still stopped.

use super::{pipes, sockets, At, Step, StepResult};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// A file reference from fget(), released on drop.
pub(crate) struct FileRef(*mut bindings::file);

// SAFETY: file references are atomic counts; a file may be used and
// released from any thread.
unsafe impl Send for FileRef {}

impl FileRef {
    /// The file at `fd` in the current task's table.
    pub(super) fn of_fd(fd: u32) -> Option<Self> {
        // SAFETY: fget() looks the descriptor up in current's table and
        // returns a reference or null.
        let file = unsafe { bindings::fget(fd) };
        if file.is_null() {
            None
        } else {
            Some(FileRef(file))
        }
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::file {
        self.0
    }

    /// Inode number and mode of the file.
    pub(super) fn inode(&self) -> (u64, u32) {
        // SAFETY: the reference keeps the file and its inode alive.
        unsafe {
            let inode = (*self.0).f_inode;
            ((*inode).i_ino as u64, (*inode).i_mode as u32)
        }
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: we own the reference fget() returned.
        unsafe { bindings::fput(self.0) }
    }
}

/// Every open file met so far, numbered from 1.
pub(crate) struct Objects {
    files: KVVec<FileRef>,
}

impl Objects {
    pub(crate) fn new() -> Self {
        Objects {
            files: KVVec::new(),
        }
    }

    /// The id of `file`, kept (with its reference) if it is new.
    pub(super) fn id_of(&mut self, file: FileRef) -> Result<u32> {
        if let Some(i) = self.files.iter().position(|f| f.0 == file.0) {
            return Ok(i as u32 + 1);
        }
        self.files.push(file, GFP_KERNEL)?;
        Ok(self.files.len() as u32)
    }

    /// Writes a section for each pipe and unix socket among the files.
    pub(crate) fn write(&self, out: &mut DumpFile) -> StepResult<()> {
        const S_IFMT: u32 = 0o170000;
        let mut done: KVVec<u64> = KVVec::new();
        for file in self.files.iter() {
            let (ino, mode) = file.inode();
            if done.contains(&ino) {
                continue; // the other end of a pipe already dumped
            }
            match mode & S_IFMT {
                0o010000 => pipes::write(out, file, ino).at(Step::Pipes)?,
                0o140000 => sockets::write(out, file, ino).at(Step::Sockets)?,
                _ => continue,
            }
            done.push(ino, GFP_KERNEL)
                .map_err(Error::from)
                .at(Step::Pipes)?;
        }
        Ok(())
    }
}
