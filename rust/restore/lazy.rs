// SPDX-License-Identifier: GPL-2.0

//! A lazy restore: the pages of private anonymous memory are not written
//! by the module but by ld-chpox's page server, through a userfaultfd the
//! process opened before its `restore` write, on demand and in the
//! background. The module only maps the areas; the server can register
//! them with the userfaultfd only then, and they must be registered before
//! anything touches them. So thread 0 tells the server over a socket that
//! the memory is mapped, and waits for its answer before any thread goes
//! on.

use crate::kernel_ext::file::{mode, File};
use kernel::prelude::*;
use kernel::types::ARef;

/// What thread 0 writes once the memory is mapped.
const MAPPED: u8 = b'm';
/// What the server answers once it has registered the memory.
const REGISTERED: u8 = b'r';

/// The socket to ld-chpox's page server.
pub(super) struct PageServer(ARef<File>);

impl PageServer {
    /// The page server's socket at `fd` in the current process.
    pub(super) fn open(fd: u32) -> Result<Self> {
        File::fget_of_type(fd, mode::S_IFSOCK).map(PageServer)
    }

    /// Tells the server the memory is mapped and waits (killable) until it
    /// has registered it. A server that is gone or answers anything else
    /// fails the restore: the memory would stay empty.
    pub(super) fn hand_over(&self) -> Result {
        let mut pos = 0;
        if self.0.write_at(&[MAPPED], &mut pos)? != 1 {
            return Err(EPIPE);
        }
        let mut answer = [0u8];
        match self.0.read_at(&mut answer, &mut pos)? {
            1 if answer[0] == REGISTERED => Ok(()),
            _ => Err(EPIPE),
        }
    }
}
