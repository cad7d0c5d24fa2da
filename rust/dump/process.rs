// SPDX-License-Identifier: GPL-2.0

//! Identity, credentials, cwd, umask and executable of the process.

use crate::abi::dump::{ProcessInfo, SectionKind};
use crate::kernel_ext::exe;
use crate::kernel_ext::file::{PathBuffer, PathRef};
use crate::kernel_ext::task::{current_comm, current_ids, current_task, current_umask, TaskExt};
use crate::writer::DumpFile;
use kernel::prelude::*;

/// Writes the identity of the current process, of `threads` threads.
pub(super) fn write(out: &mut DumpFile, threads: u32) -> Result {
    let task = current_task();
    let ids = current_ids();
    let cred = task.credential();
    let info = ProcessInfo {
        pid: ids.pid,
        ppid: ids.ppid,
        pgid: ids.pgid,
        sid: ids.sid,
        uids: cred.uids(),
        gids: cred.gids(),
        umask: current_umask(),
        threads,
        comm: current_comm(),
    };

    let mut cwd_buf = PathBuffer::new()?;
    let cwd = PathRef::current_cwd();
    let cwd = cwd.name(&mut cwd_buf)?;

    let mut exe_buf = PathBuffer::new()?;
    let exe_file = exe::current();
    let exe = match &exe_file {
        None => &[][..],
        Some(file) => file.path().name(&mut exe_buf)?,
    };

    out.section(
        SectionKind::Process,
        ProcessInfo::payload_len(cwd, exe),
        |w, out| {
            w.put(out, &info.encode(cwd, exe));
            w.put(out, cwd);
            w.put(out, exe);
        },
    );
    Ok(())
}
