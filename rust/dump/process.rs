// SPDX-License-Identifier: GPL-2.0

//! Identity, credentials, cwd, umask and executable of the process.

use super::PathBuffer;
use crate::abi::dump::{ProcessInfo, SectionKind};
use crate::kernel_ext::bindings;
use crate::kernel_ext::task::{current_comm, current_ids, current_task, current_umask, TaskExt};
use crate::writer::DumpFile;
use kernel::prelude::*;

pub(super) fn write(out: &mut DumpFile) -> Result {
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
        threads: task.thread_count(),
        comm: current_comm(),
    };

    let mut cwd_buf = PathBuffer::new()?;
    // SAFETY: all-zero is an empty path, filled (with references) below.
    let mut pwd: bindings::path = unsafe { core::mem::zeroed() };
    // SAFETY: fills `pwd` with a referenced copy of current's cwd.
    unsafe { bindings::chpox_get_fs_pwd(&mut pwd) };
    let cwd = cwd_buf.of(&pwd);
    // SAFETY: releases what chpox_get_fs_pwd() took.
    unsafe { bindings::path_put(&pwd) };
    let cwd = cwd?;

    let mut exe_buf = PathBuffer::new()?;
    // SAFETY: the result is a referenced file or null.
    let exe_file = unsafe { bindings::chpox_current_exe_file() };
    let exe = if exe_file.is_null() {
        Ok(&[][..])
    } else {
        // SAFETY: `exe_file` is referenced until the fput() below.
        let exe = exe_buf.of(unsafe { &(*exe_file).f_path });
        // SAFETY: drops the reference from get_mm_exe_file().
        unsafe { bindings::fput(exe_file) };
        exe
    }?;

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
