// SPDX-License-Identifier: GPL-2.0

//! Open file descriptors: what they are, how they were opened, where their
//! offset is.

use super::objects::{FileRef, Objects};
use super::PathBuffer;
use crate::abi::dump::{file_kind, files_head, OpenFile, SectionKind};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// One descriptor, gathered before the section is written.
struct Entry {
    fd: u32,
    kind: u32,
    flags: u32,
    cloexec: bool,
    pos: u64,
    id: u32,
    path: KVec<u8>,
}

fn as_record(e: &Entry) -> OpenFile<'_> {
    OpenFile {
        fd: e.fd,
        kind: e.kind,
        flags: e.flags,
        cloexec: e.cloexec,
        pos: e.pos,
        id: e.id,
        path: &e.path,
    }
}

/// Terminal majors: ttys and consoles (4, 5), pty slaves (136 to 143).
fn is_terminal_major(major: u32) -> bool {
    matches!(major, 4 | 5 | 136..=143)
}

fn kind_of(mode: u32, rdev: u32) -> u32 {
    const S_IFMT: u32 = 0o170000;
    match mode & S_IFMT {
        0o100000 => file_kind::REGULAR,
        0o040000 => file_kind::DIRECTORY,
        0o020000 if is_terminal_major(rdev >> 20) => file_kind::TTY,
        0o020000 => file_kind::CHAR,
        0o010000 => file_kind::PIPE,
        0o140000 => file_kind::SOCKET,
        _ => file_kind::OTHER,
    }
}

pub(super) fn write(out: &mut DumpFile, objects: &mut Objects) -> Result {
    // SAFETY: current's files table lives as long as it; nobody else runs
    // in this single-threaded process, so its size is stable.
    let max_fds = unsafe { bindings::chpox_max_fds() };
    let mut entries = KVVec::new();
    let mut paths = PathBuffer::new()?;
    for fd in 0..max_fds {
        let Some(file) = FileRef::of_fd(fd) else {
            continue;
        };
        let f = file.as_ptr();
        // SAFETY: the reference keeps the file and its inode alive.
        let (mode, rdev, flags, pos) = unsafe {
            let inode = (*f).f_inode;
            (
                (*inode).i_mode as u32,
                (*inode).i_rdev,
                (*f).f_flags,
                (*f).f_pos,
            )
        };
        let mut path = KVec::new();
        // SAFETY: the file's path lives as long as the file.
        path.extend_from_slice(paths.of(unsafe { &(*f).f_path })?, GFP_KERNEL)?;
        entries.push(
            Entry {
                fd,
                kind: kind_of(mode, rdev),
                flags,
                // SAFETY: looks at current's table.
                cloexec: unsafe { bindings::chpox_close_on_exec(fd) },
                pos: pos as u64,
                id: objects.id_of(file)?,
                path,
            },
            GFP_KERNEL,
        )?;
    }
    let len = 8 + entries
        .iter()
        .map(|e| as_record(e).encoded_len() as u64)
        .sum::<u64>();
    out.section(SectionKind::Files, len, |w, out| {
        w.put(out, &files_head(entries.len() as u32));
        for e in entries.iter() {
            as_record(e).encode(&mut |b| w.put(out, b));
        }
    });
    Ok(())
}
