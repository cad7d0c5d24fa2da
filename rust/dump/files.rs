// SPDX-License-Identifier: GPL-2.0

//! Open file descriptors: what they are, how they were opened, where their
//! offset is.

use super::objects::Objects;
use crate::abi::dump::{file_kind, files_head, OpenFile as FileRecord, SectionKind};
use crate::kernel_ext::file::{fd_table, mode, File, PathBuffer};
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

fn as_record(e: &Entry) -> FileRecord<'_> {
    FileRecord {
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

fn kind_of(file_type: u32, rdev: u32) -> u32 {
    match file_type {
        mode::S_IFREG => file_kind::REGULAR,
        mode::S_IFDIR => file_kind::DIRECTORY,
        mode::S_IFCHR if is_terminal_major(rdev >> 20) => file_kind::TTY,
        mode::S_IFCHR => file_kind::CHAR,
        mode::S_IFIFO => file_kind::PIPE,
        mode::S_IFSOCK => file_kind::SOCKET,
        _ => file_kind::OTHER,
    }
}

pub(super) fn write(out: &mut DumpFile, objects: &mut Objects) -> Result {
    // Nobody else runs in this single-threaded process: the table's size
    // is stable.
    let max_fds = fd_table::size();
    let mut entries = KVVec::new();
    let mut paths = PathBuffer::new()?;
    for fd in 0..max_fds {
        let Some(file) = File::fget(fd) else {
            continue;
        };
        let inode = file.inode();
        let mut path = KVec::new();
        path.extend_from_slice(file.path().name(&mut paths)?, GFP_KERNEL)?;
        entries.push(
            Entry {
                fd,
                kind: kind_of(inode.file_type(), inode.rdev()),
                flags: file.flags(),
                cloexec: fd_table::close_on_exec(fd),
                pos: file.pos() as u64,
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
