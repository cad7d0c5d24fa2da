// SPDX-License-Identifier: GPL-2.0

//! A pipe's capacity and the bytes still in its buffer, read without
//! consuming them.

use super::objects::FileRef;
use crate::abi::dump::{SectionKind, PAGE_SIZE};
use crate::abi::ipc::PipeState;
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// The pipe lock, released on drop.
struct PipeLock(*mut bindings::pipe_inode_info);

impl PipeLock {
    fn new(pipe: *mut bindings::pipe_inode_info) -> Self {
        // SAFETY: the caller's file reference keeps the pipe alive.
        unsafe { bindings::pipe_lock(pipe) };
        PipeLock(pipe)
    }
}

impl Drop for PipeLock {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { bindings::pipe_unlock(self.0) };
    }
}

pub(super) fn write(out: &mut DumpFile, file: &FileRef, ino: u64) -> Result {
    // SAFETY: the reference keeps the file (and so its pipe) alive.
    let pipe = unsafe { bindings::chpox_file_pipe(file.as_ptr()) };
    if pipe.is_null() {
        return Err(EINVAL);
    }
    let mut data = KVVec::new();
    let capacity;
    {
        let _lock = PipeLock::new(pipe);
        let mut ring = [0u32; 3];
        // SAFETY: the pipe lock protects the ring indices.
        unsafe { bindings::chpox_pipe_ring(pipe, ring.as_mut_ptr()) };
        let [head, tail, max_usage] = ring;
        capacity = max_usage as u64 * PAGE_SIZE;
        let mut slot = tail;
        while slot != head {
            let mut len = 0u32;
            // SAFETY: `slot` is between tail and head of the locked pipe,
            // so it names a filled buffer whose page is mapped.
            let bytes = unsafe {
                let p = bindings::chpox_pipe_buffer(pipe, slot, &mut len);
                core::slice::from_raw_parts(p.cast::<u8>(), len as usize)
            };
            data.extend_from_slice(bytes, GFP_KERNEL)?;
            slot = slot.wrapping_add(1);
        }
    }
    let capacity = u32::try_from(capacity).map_err(|_| E2BIG)?;
    let len = data.len() as u64;
    out.section(SectionKind::Pipe, PipeState::payload_len(len), |w, out| {
        w.put(out, &PipeState::encode_head(ino, capacity, len));
        w.put(out, &data);
    });
    Ok(())
}
