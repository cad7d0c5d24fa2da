// SPDX-License-Identifier: GPL-2.0

//! Restore, the mirror of `dump/`: run in the context of each thread of
//! the process that `ld-chpox` prepared (files, cwd, dispositions, threads
//! with their tids, FPU states already in place), when it writes `restore`
//! to `/proc/chpox`. Thread 0 replaces the address space and mm layout
//! with the dump's ([`threads`] has the others wait for it), every thread
//! its registers, signal mask and rseq area, and the `write()`s return
//! into the restored program. A lazy restore leaves the pages of private
//! anonymous memory to ld-chpox's page server ([`lazy`]).

mod exe;
mod lazy;
mod memory;
mod registers;
mod source;
mod threads;

pub(crate) use threads::Restores;

use crate::abi::dump::{Registers, SleepRestart};
use crate::kernel_ext::cred::Credential;
use crate::kernel_ext::regs::set_current_rseq;
use crate::kernel_ext::restart;
use crate::kernel_ext::task::{
    close_current_fd, current_task, kill_current, set_current_blocked, TaskExt,
};
use crate::kernel_ext::task_work::{self, When};
use crate::permission::beyond_a_user;
use kernel::prelude::*;

/// The descriptors ld-chpox put in the writer for the module, none of
/// which the restored program has.
#[derive(Clone, Copy)]
pub(crate) struct Descriptors {
    /// The dump.
    pub(crate) dump: u32,
    /// The writer's own control file (each thread has one).
    pub(crate) control: u32,
    /// For a lazy restore, the socket to ld-chpox's page server.
    pub(crate) lazy: Option<u32>,
}

/// Closes descriptors once the `write()` has returned: closing the control
/// file inside its own `write()` could free it under the system call.
/// Thread 0 closes them all, the others their control file.
struct CloseOnResume {
    control: u32,
    /// The dump and the page server's socket, for thread 0.
    others: [Option<u32>; 2],
}

impl task_work::Work for CloseOnResume {
    fn run(self) {
        // ld-chpox put them there.
        close_current_fd(self.control);
        self.others.into_iter().flatten().for_each(close_current_fd);
    }
}

/// Has the current thread close `control` (and `others`) on its way back.
fn close_on_resume(control: u32, others: [Option<u32>; 2]) -> Result {
    let work = CloseOnResume { control, others };
    if task_work::queue(&current_task(), work, When::Resume, GFP_KERNEL) {
        Ok(())
    } else {
        Err(ENOMEM)
    }
}

/// Turns the current thread into thread `thread` of process `process` of
/// the dump open at `fds.dump`. Returns the value the restored program
/// finds in `rax`.
pub(crate) fn restore_current(
    restores: &Restores,
    fds: Descriptors,
    process: u32,
    thread: u32,
) -> Result<isize> {
    let source = source::DumpSource::open(fds.dump)?;
    // Only the thread that maps the memory hands it over.
    let server = match fds.lazy {
        Some(_) if thread != 0 => return Err(EINVAL),
        Some(fd) => Some(lazy::PageServer::open(fd)?),
        None => None,
    };
    // A restored process never has more rights than the owner of its dump:
    // whoever could write the file chose the code it runs.
    if !source.written_by_root_only() && beyond_a_user(&Credential::current()) {
        return Err(EPERM);
    }
    let joined = restores.join()?;
    let loaded = source.load(process, thread);
    let (image, own) = match loaded {
        Ok(l) => l,
        Err(e) => {
            joined.fail();
            return Err(e);
        }
    };
    let Some(image) = image else {
        // Another thread: thread 0 replaces the memory.
        if let Err(e) = close_on_resume(fds.control, [None, None]) {
            joined.fail();
            return Err(e);
        }
        joined.arrive()?;
        return after_no_return(install_thread(&own)).inspect(|_| joined.installed());
    };
    let checked = (|| {
        if current_task().thread_count() != image.threads {
            return Err(EBUSY);
        }
        memory::check_vdso(&image)?;
        memory::check_layout(&image)?;
        joined.gather(image.threads)?;
        close_on_resume(fds.control, [Some(fds.dump), fds.lazy])
    })();
    if let Err(e) = checked {
        joined.fail();
        return Err(e);
    }
    // From here on the old address space is being torn down: any failure
    // must end the process, which has nothing left to return to.
    let rax = after_no_return((|| {
        memory::replace(&image, &source, server.is_some())?;
        exe::replace(&image.exe);
        // Before any thread can touch the memory left out: a page touched
        // before it is registered would be a zero page for good.
        if let Some(server) = &server {
            server.hand_over()?;
        }
        joined.memory_ready();
        install_thread(&own)
    })())?;
    joined.installed();
    Ok(rax)
}

/// Ends the process if `result` (of a step past the point of no return)
/// failed.
fn after_no_return(result: Result<isize>) -> Result<isize> {
    result.inspect_err(|e| {
        pr_warn!(
            "restore failed after the point of no return: error {}\n",
            e.to_errno()
        );
        kill_current();
    })
}

/// Installs the current thread's own state; returns its `rax`.
fn install_thread(image: &source::ThreadImage) -> Result<isize> {
    set_current_blocked(image.blocked)?;
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
    // A non-zero area was checked by RseqArea::check() as rseq() checks
    // its arguments.
    set_current_rseq(rseq.addr, rseq.len, rseq.sig)?;
    Ok(registers::install(&regs))
}
