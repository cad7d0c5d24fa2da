// SPDX-License-Identifier: GPL-2.0

//! Identity, credentials, cwd, umask and executable of the process.

use super::{current, PathBuffer};
use crate::abi::dump::{ProcessInfo, SectionKind};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

pub(super) fn write(out: &mut DumpFile) -> Result {
    let task = current();
    let mut ids = [0i32; 4];
    // SAFETY: fills four ints about the current task.
    unsafe { bindings::chpox_current_ids(ids.as_mut_ptr()) };
    let mut info = ProcessInfo {
        pid: ids[0],
        ppid: ids[1],
        pgid: ids[2],
        sid: ids[3],
        ..Default::default()
    };
    // SAFETY: current's objective credentials, signal and fs structs live
    // as long as it does; `comm` is a fixed array.
    unsafe {
        let c = (*task).real_cred;
        info.uids = [(*c).uid.val, (*c).euid.val, (*c).suid.val, (*c).fsuid.val];
        info.gids = [(*c).gid.val, (*c).egid.val, (*c).sgid.val, (*c).fsgid.val];
        info.umask = bindings::current_umask() as u32;
        info.threads = (*(*task).signal).nr_threads as u32;
        for (o, &c) in info.comm.iter_mut().zip((*task).comm.iter()) {
            *o = c;
        }
    }

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
    let exe = match crate::kernel_ext::exe::current() {
        None => Ok(&[][..]),
        Some(exe_file) => exe_buf.of(exe_file.path().as_ptr()),
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
