// SPDX-License-Identifier: GPL-2.0

//! Pipes and FIFOs (`struct pipe_inode_info`) and their buffer rings.

use crate::kernel_ext::bindings;
use crate::kernel_ext::file::{mode, File};
use kernel::types::Opaque;

/// A pipe.
///
/// # Invariants
///
/// The pipe is valid for the lifetime of the reference: an open file of it
/// is held.
#[repr(transparent)]
pub(crate) struct Pipe(Opaque<bindings::pipe_inode_info>);

impl Pipe {
    /// The pipe of an open pipe or FIFO, `None` for other files.
    pub(crate) fn of_file(file: &File) -> Option<&Pipe> {
        let inode = file.inode();
        // As get_pipe_info() (not exported): only a FIFO's `i_pipe` is its
        // pipe (the field is shared with devices and links).
        if inode.file_type() != mode::S_IFIFO {
            return None;
        }
        // SAFETY: the inode of an open FIFO.
        let pipe = unsafe { bindings::chpox_inode_pipe(inode.as_ptr()) };
        if pipe.is_null() {
            return None;
        }
        // INVARIANT: the open file holds the pipe.
        // SAFETY: `Pipe` is a transparent wrapper; the file keeps it alive
        // for the borrow.
        Some(unsafe { &*pipe.cast::<Pipe>() })
    }

    fn as_ptr(&self) -> *mut bindings::pipe_inode_info {
        self.0.get()
    }

    /// Takes the pipe's mutex (`pipe_lock()`); it may sleep.
    pub(crate) fn lock(&self) -> PipeGuard<'_> {
        // SAFETY: the pipe is valid.
        unsafe { bindings::pipe_lock(self.as_ptr()) };
        // INVARIANT: locked just above.
        PipeGuard(self)
    }
}

/// A locked pipe, unlocked on drop.
///
/// # Invariants
///
/// The pipe's mutex is held by this guard.
pub(crate) struct PipeGuard<'a>(&'a Pipe);

impl PipeGuard<'_> {
    /// Head and tail of the ring: the slots from tail up to head (wrapping)
    /// are filled.
    pub(crate) fn head_tail(&self) -> (u32, u32) {
        let pipe = self.0.as_ptr();
        // SAFETY: the lock protects both indices.
        unsafe {
            (
                bindings::chpox_pipe_head(pipe),
                bindings::chpox_pipe_tail(pipe),
            )
        }
    }

    /// How many buffers the pipe may fill.
    pub(crate) fn max_usage(&self) -> u32 {
        // SAFETY: the lock protects it.
        unsafe { bindings::chpox_pipe_max_usage(self.0.as_ptr()) }
    }

    /// The unread bytes of ring slot `slot`, `None` unless it is filled
    /// (from tail up to head).
    pub(crate) fn buffer(&self, slot: u32) -> Option<&[u8]> {
        let (head, tail) = self.head_tail();
        if slot.wrapping_sub(tail) >= head.wrapping_sub(tail) {
            return None;
        }
        let pipe = self.0.as_ptr();
        // SAFETY: the lock protects the ring; `ring_size` is a power of two.
        let index = slot & unsafe { bindings::chpox_pipe_ring_size(pipe) }.wrapping_sub(1);
        // SAFETY: `index` is below the ring size, so within `bufs`.
        let buf = unsafe { bindings::chpox_pipe_buf(pipe, index) };
        // SAFETY: a filled buffer of a locked pipe has a page (pipe pages
        // are never high memory) holding `len` bytes at `offset`; they stay
        // while the lock is held.
        Some(unsafe {
            let len = bindings::chpox_pipe_buf_len(buf);
            let data = bindings::chpox_pipe_buf_data(buf);
            core::slice::from_raw_parts(data.cast::<u8>(), len as usize)
        })
    }
}

impl Drop for PipeGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: locked, by the type invariant.
        unsafe { bindings::pipe_unlock(self.0.as_ptr()) };
    }
}
