// SPDX-License-Identifier: GPL-2.0

//! Restore, the mirror of `dump/`: run in the context of the process that
//! `ld-chpox` prepared (files, cwd, dispositions, FPU state already in
//! place), when it writes `restore` to `/proc/chpox`. The module replaces
//! its address space, mm layout, registers and signal mask with the dump's,
//! and the `write()` returns into the restored program.

mod exe;
mod memory;
mod registers;
mod source;

use crate::abi::dump::{Registers, SleepRestart};
use crate::kernel_ext::bindings;
use crate::kernel_ext::cred::Credentials;
use crate::kernel_ext::restart;
use crate::kernel_ext::task_work::{self, When};
use kernel::prelude::*;

/// SIGKILL and SIGSTOP in a signal mask.
const UNBLOCKABLE: u64 = 1 << (bindings::SIGKILL - 1) | 1 << (bindings::SIGSTOP - 1);

/// Closes descriptors once the `write()` has returned: closing the control
/// file inside its own `write()` could free it under the system call.
struct CloseOnResume([u32; 2]);

impl task_work::Work for CloseOnResume {
    fn run(self) {
        for fd in self.0 {
            // SAFETY: closes a descriptor of the current task, whatever it
            // holds (ld-chpox put the dump and control files there).
            unsafe { bindings::close_fd(fd) };
        }
    }
}

/// Turns the current process into process `process` of the dump open at
/// `dump_fd`. Returns the value the restored program finds in `rax`.
pub(crate) fn restore_current(dump_fd: u32, control_fd: u32, process: u32) -> Result<isize> {
    // SAFETY: the current task is always valid.
    let task = unsafe { bindings::get_current() };
    // SAFETY: current's signal_struct lives as long as it.
    if unsafe { (*(*task).signal).nr_threads } != 1 {
        return Err(EBUSY);
    }
    let source = source::DumpSource::open(dump_fd)?;
    // A restored process never has more rights than the owner of its dump:
    // whoever could write the file chose the code it runs.
    if !source.written_by_root_only() && Credentials::current().beyond_a_user() {
        return Err(EPERM);
    }
    let image = source.load(process)?;
    memory::check_vdso(&image)?;
    memory::check_layout(&image)?;
    if !task_work::queue(
        task,
        CloseOnResume([dump_fd, control_fd]),
        When::Resume,
        GFP_KERNEL,
    ) {
        return Err(ENOMEM);
    }
    // From here on the old address space is being torn down: any failure
    // must end the process, which has nothing left to return to.
    match install(&image, &source) {
        Ok(rax) => Ok(rax),
        Err(e) => {
            pr_warn!(
                "restore failed after the point of no return: error {}\n",
                e.to_errno()
            );
            // SAFETY: sends SIGKILL to the current task, a plain kernel call.
            unsafe { bindings::send_sig(bindings::SIGKILL as i32, task, 1) };
            Err(e)
        }
    }
}

fn install(image: &source::Image, source: &source::DumpSource) -> Result<isize> {
    memory::replace(image, source)?;
    exe::replace(&image.exe);
    // As sigprocmask(2): SIGKILL and SIGSTOP cannot be blocked.
    let mut blocked = bindings::sigset_t {
        sig: [(image.blocked & !UNBLOCKABLE) as _],
    };
    // SAFETY: sets the current task's mask; `blocked` is a valid set.
    to_result(unsafe {
        bindings::sigprocmask(
            bindings::SIG_SETMASK as i32,
            &mut blocked,
            core::ptr::null_mut(),
        )
    })?;
    let mut regs = image.registers;
    let r = &mut regs.0;
    // A saved sleep continues through restart_syscall if its restart block
    // can be set up; if not, the call starts again with its arguments.
    if let Some(sleep) = &image.sleep {
        if r[Registers::RAX] != SleepRestart::RESTART_SYSCALL || !restart::resume_sleep(sleep) {
            r[Registers::RAX] = r[Registers::ORIG_RAX];
        }
    }
    // After the memory: the kernel fills the area in on the way out. Any
    // area ld-chpox had lay in memory that is gone now, so it is replaced
    // (or dropped when the dump has none).
    let rseq = image.rseq.unwrap_or_default();
    // SAFETY: sets the current task's rseq area; a non-zero one was checked
    // by RseqArea::decode() as rseq() checks its arguments.
    to_result(unsafe { bindings::chpox_rseq_set(rseq.addr, rseq.len, rseq.sig) })?;
    Ok(registers::install(&regs))
}

fn to_result(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}
