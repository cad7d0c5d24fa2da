// SPDX-License-Identifier: GPL-2.0

//! The open file descriptors of a process: a [`SectionKind::Files`](super::SectionKind::Files)
//! payload, a [`ListHead`](super::ListHead) and [`OpenFile`] entries.

use super::memory::{decode_list, ListHead};
use super::{put_padded, DumpError, Reader};
/// What an open file descriptor refers to.
pub mod file_kind {
    /// A regular file, reopened by path.
    pub const REGULAR: u32 = 1;
    /// A directory, reopened by path.
    pub const DIRECTORY: u32 = 2;
    /// A terminal: attached to ld-chpox's own terminal on restore.
    pub const TTY: u32 = 3;
    /// Another character device (`/dev/null` ...), reopened by path.
    pub const CHAR: u32 = 4;
    /// A pipe or FIFO.
    pub const PIPE: u32 = 5;
    /// A socket.
    pub const SOCKET: u32 = 6;
    /// Anything else (eventfd, epoll, ...), not restorable yet.
    pub const OTHER: u32 = 7;
}

record! {
    /// One open file descriptor: the record, then its path padded to 8
    /// bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OpenFile<'a> ["open file", lens OpenFileLens] {
        /// Descriptor number.
        fd: u32,
        /// [`file_kind`]: regular file 1, directory 2, terminal 3, other
        /// character device 4, pipe or FIFO 5, socket 6, anything else 7.
        kind: u32,
        /// `O_*` flags the file was opened with.
        flags: u32,
        /// Close-on-exec.
        cloexec: bool as u32,
        /// File offset.
        pos: u64,
        /// Length of the path after the record.
        let path_len: u32,
        /// The open file description, numbered from 1 within the dump:
        /// descriptors with the same id share it (and its offset). 0:
        /// unknown.
        id: u32,
        /// Path (for pipes and sockets the kernel's name, e.g.
        /// `pipe:[1234]`).
        tail path: &'a [u8],
    }
}

/// Size of the fixed part of an [`OpenFile`] entry.
pub const OPEN_FILE_SIZE: usize = OpenFile::SIZE;

impl<'a> OpenFile<'a> {
    /// Bytes the entry takes in a [`SectionKind::Files`](super::SectionKind::Files) payload.
    pub fn encoded_len(&self) -> usize {
        OPEN_FILE_SIZE + super::pad8(self.path.len())
    }

    /// Writes the entry.
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        let path_len = self.path.len() as u32;
        self.put_with(&OpenFileLens { path_len }, out);
        put_padded(out, self.path);
    }

    fn decode(r: &mut Reader<'a>) -> Result<OpenFile<'a>, DumpError> {
        let (mut f, lens) = OpenFile::read_with(r)?;
        f.path = r.padded(lens.path_len as usize, "file path")?;
        if !(file_kind::REGULAR..=file_kind::OTHER).contains(&f.kind) || f.fd > 1 << 20 {
            return Err(DumpError::Invalid("impossible open file entry"));
        }
        if f.pos > i64::MAX as u64 {
            return Err(DumpError::Invalid("file offset out of range"));
        }
        Ok(f)
    }
}

/// Reads a [`SectionKind::Files`](super::SectionKind::Files) payload: entries sorted by descriptor.
pub fn decode_files<'a>(
    payload: &'a [u8],
) -> Result<impl Iterator<Item = OpenFile<'a>> + Clone + 'a, DumpError> {
    decode_list(
        payload,
        OpenFile::decode,
        |prev, f| match prev {
            Some(p) if f.fd <= p.fd => {
                Err(DumpError::Invalid("file descriptors unsorted or repeated"))
            }
            _ => Ok(()),
        },
        "files section too long",
    )
}

/// Writes the 8-byte head of a [`SectionKind::Files`](super::SectionKind::Files) payload.
pub fn files_head(count: u32) -> [u8; ListHead::SIZE] {
    ListHead { count }.encode()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn open_files_round_trip() {
        let files = [
            OpenFile {
                fd: 0,
                kind: file_kind::TTY,
                flags: 2,
                cloexec: false,
                pos: 0,
                id: 1,
                path: b"/dev/pts/0",
            },
            OpenFile {
                fd: 3,
                kind: file_kind::REGULAR,
                flags: 0o2001,
                cloexec: true,
                pos: 12345,
                id: 2,
                path: b"/tmp/out",
            },
        ];
        let mut b = Vec::from(files_head(2));
        for f in &files {
            f.encode(&mut |x| b.extend_from_slice(x));
        }
        assert_eq!(decode_files(&b).unwrap().collect::<Vec<_>>(), files);
        b[OPEN_FILE_SIZE + 8 + 16] = 0; // second fd := 0, a repeat
        assert!(decode_files(&b).is_err());
    }
}
