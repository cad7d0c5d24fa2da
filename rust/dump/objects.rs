// SPDX-License-Identifier: GPL-2.0

//! The open files of a tree. Each open file gets one id however many
//! descriptors, in however many processes, refer to it; the pipes and unix
//! sockets among them are dumped once, after every process, while the tree
//! is still stopped.

use super::{pipes, sockets, At, Step, StepResult};
use crate::kernel_ext::file::{mode, File};
use crate::writer::DumpFile;
use kernel::prelude::*;
use kernel::types::ARef;

/// Every open file met so far, numbered from 1.
pub(crate) struct Objects {
    files: KVVec<ARef<File>>,
}

impl Objects {
    pub(crate) fn new() -> Self {
        Objects {
            files: KVVec::new(),
        }
    }

    /// The id of `file`, kept (with its reference) if it is new.
    pub(super) fn id_of(&mut self, file: ARef<File>) -> Result<u32> {
        if let Some(i) = self.files.iter().position(|f| f.is(&file)) {
            return Ok(i as u32 + 1);
        }
        self.files.push(file, GFP_KERNEL)?;
        Ok(self.files.len() as u32)
    }

    /// Writes a section for each pipe and unix socket among the files.
    pub(crate) fn write(&self, out: &mut DumpFile) -> StepResult<()> {
        let mut done: KVVec<u64> = KVVec::new();
        for file in self.files.iter() {
            let inode = file.inode();
            let ino = inode.ino();
            if done.contains(&ino) {
                continue; // the other end of a pipe already dumped
            }
            match inode.file_type() {
                mode::S_IFIFO => pipes::write(out, file, ino).at(Step::Pipes)?,
                mode::S_IFSOCK => sockets::write(out, file, ino).at(Step::Sockets)?,
                _ => continue,
            }
            done.push(ino, GFP_KERNEL)
                .map_err(Error::from)
                .at(Step::Pipes)?;
        }
        Ok(())
    }
}
