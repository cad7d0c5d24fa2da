// SPDX-License-Identifier: GPL-2.0

//! Putting a process's descriptors in place: each one a duplicate of the
//! open file ld-chpox prepared for it, at its number, with its close-on-exec
//! flag; everything else closed.

use super::objects::{key, Table};
use super::Error;
use chpox_abi::dump::{decode_files, Dump, SectionKind};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::unistd::{close, dup2};

/// Installs the descriptors of process `process`, then closes every other
/// descriptor but `keep`.
pub(crate) fn install(
    dump: &Dump<'_>,
    process: u32,
    table: &Table,
    keep: &[i32],
) -> Result<(), Error> {
    let files = dump
        .only(process, SectionKind::Files)
        .and_then(|s| decode_files(s.payload))?;
    let mut wanted = Vec::new();
    for f in files {
        let fd = f.fd as i32;
        let source = table
            .source(key(process, &f))
            .ok_or_else(|| format!("fd {fd} was not prepared"))?;
        let from = table.fd_of(source);
        // The table lives above every dumped descriptor, so nothing put in
        // place here is overwritten later.
        if from != fd {
            dup2(from, fd).map_err(|e| format!("fd {fd}: dup2: {}", std::io::Error::from(e)))?;
        }
        let cloexec = if f.cloexec {
            FdFlag::FD_CLOEXEC
        } else {
            FdFlag::empty()
        };
        let _ = fcntl(fd, FcntlArg::F_SETFD(cloexec));
        wanted.push(fd);
    }
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("/proc/self/fd: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if !wanted.contains(&fd) && !keep.contains(&fd) {
            // A descriptor inherited from ld-chpox that we do not restore
            // (nothing in this process owns it any more).
            let _ = close(fd);
        }
    }
    Ok(())
}
