// SPDX-License-Identifier: GPL-2.0

//! A pipe's capacity and the bytes still in its buffer, read without
//! consuming them.

use crate::abi::dump::{SectionKind, PAGE_SIZE};
use crate::abi::ipc::PipeState;
use crate::kernel_ext::file::File;
use crate::kernel_ext::pipe::Pipe;
use crate::writer::DumpFile;
use kernel::prelude::*;

pub(super) fn write(out: &mut DumpFile, file: &File, ino: u64) -> Result {
    let pipe = Pipe::of_file(file).ok_or(EINVAL)?;
    let mut data = KVVec::new();
    let capacity;
    {
        let pipe = pipe.lock();
        let (_, tail) = pipe.head_tail();
        capacity = pipe.max_usage() as u64 * PAGE_SIZE;
        let mut slot = tail;
        while let Some(bytes) = pipe.buffer(slot) {
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
