// SPDX-License-Identifier: GPL-2.0

//! The identity of a process: a [`SectionKind::Process`](super::SectionKind)
//! payload.

use super::{DumpError, Reader};

record! {
    /// Identity and credentials of a process.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ProcessInfo ["process", lens PathLengths] {
        /// Process id, in the checkpointed process's pid namespace.
        pid: i32,
        /// Parent's pid.
        ppid: i32,
        /// Process group.
        pgid: i32,
        /// Session.
        sid: i32,
        /// Real, effective, saved and filesystem uids.
        uids: [u32; 4],
        /// Real, effective, saved and filesystem gids.
        gids: [u32; 4],
        /// File creation mask.
        umask: u32,
        /// Number of threads.
        threads: u32,
        /// `comm`, NUL-padded.
        comm: [u8; 16],
        /// Length of the cwd, which follows the record.
        let cwd: u32,
        /// Length of the executable's path, which follows the cwd.
        let exe: u32,
    }
}

/// Size of the fixed part of a [`SectionKind::Process`](super::SectionKind)
/// payload.
pub const PROCESS_INFO_SIZE: usize = ProcessInfo::SIZE;

impl ProcessInfo {
    /// The fixed part of the payload; the cwd and executable paths follow.
    pub fn encode(&self, cwd: &[u8], exe: &[u8]) -> [u8; PROCESS_INFO_SIZE] {
        self.encode_with(&PathLengths {
            cwd: cwd.len() as u32,
            exe: exe.len() as u32,
        })
    }

    /// Length of the payload for these paths.
    pub fn payload_len(cwd: &[u8], exe: &[u8]) -> u64 {
        PROCESS_INFO_SIZE as u64 + cwd.len() as u64 + exe.len() as u64
    }

    /// Reads a payload: the info, the cwd and the executable path.
    pub fn decode(payload: &[u8]) -> Result<(ProcessInfo, &[u8], &[u8]), DumpError> {
        let mut r = Reader::new(payload);
        let (p, len) = ProcessInfo::read_with(&mut r)?;
        let cwd = r.take(len.cwd as usize, "cwd")?;
        let exe = r.take(len.exe as usize, "exe")?;
        if !r.rest().is_empty() {
            return Err(DumpError::Invalid("process section too long"));
        }
        if p.pid <= 0 || p.umask > 0o777 || p.threads == 0 {
            return Err(DumpError::Invalid("impossible process identity"));
        }
        if cwd.first() != Some(&b'/') || cwd.contains(&0) {
            return Err(DumpError::Invalid("cwd is not an absolute path"));
        }
        Ok((p, cwd, exe))
    }
}
