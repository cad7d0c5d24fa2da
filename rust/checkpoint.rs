// SPDX-License-Identifier: GPL-2.0

//! The checkpoint of one process, run as task work in the process's own
//! context: at the start of `get_signal()`, where its user registers are
//! saved and it runs no user code, so its state cannot change under us.

use crate::abi::dump::{Header, ARCH_X86_64, RELEASE_MAX};
use crate::abi::registration::{Last, FLAG_DESCENDANTS, PATH_MAX};
use crate::kernel_ext::bindings;
use crate::kernel_ext::cred::{Credentials, CredentialsOverride};
use crate::dump::{self, Failure, Objects, StepResult};
use crate::freeze::Freeze;
use crate::registry::{Registry, Request};
use crate::kernel_ext::task::TaskRef;
use crate::kernel_ext::task_work::{self, When};
use crate::writer::{split_path, DumpFile};
use kernel::prelude::*;
use kernel::sync::Arc;

/// The checkpoint, as task work for the process to run.
struct CheckpointWork(Arc<Registry>);

impl task_work::Work for CheckpointWork {
    fn run(self) {
        take_current(&self.0);
    }
}

/// Queues the checkpoint of `target`'s process on `target`. Called by the
/// trigger, in atomic context, with the target's siglock held. Returns false
/// if it could not be queued.
pub(crate) fn queue(target: *mut bindings::task_struct, registry: &Arc<Registry>) -> bool {
    // TWA_SIGNAL: the target enters get_signal() soon, leaving an
    // interruptible sleep if it is in one.
    task_work::queue(
        target,
        CheckpointWork(registry.clone()),
        When::Signal,
        GFP_ATOMIC,
    )
}

/// Lifts the process's RLIMIT_FSIZE while the dump is written (it limits the
/// application's files, not chpox's) and restores it when dropped.
struct FsizeLimitLifted {
    signal: *mut bindings::signal_struct,
    saved: u64,
}

impl FsizeLimitLifted {
    fn new(task: *mut bindings::task_struct) -> Self {
        // SAFETY: `task` is current, which keeps its signal_struct; the
        // process is single-threaded and stopped here, so nobody else
        // changes its limits meanwhile (prlimit from outside aside).
        unsafe {
            let signal = (*task).signal;
            let limit = &mut (*signal).rlim[bindings::RLIMIT_FSIZE as usize];
            let saved = limit.rlim_cur as u64;
            limit.rlim_cur = limit.rlim_max;
            FsizeLimitLifted { signal, saved }
        }
    }
}

impl Drop for FsizeLimitLifted {
    fn drop(&mut self) {
        // SAFETY: see `new`.
        unsafe {
            (*self.signal).rlim[bindings::RLIMIT_FSIZE as usize].rlim_cur = self.saved as _;
        }
    }
}

fn now() -> (u64, u32) {
    // SAFETY: all-zero is a valid timespec64, which the call fills.
    let mut ts: bindings::timespec64 = unsafe { core::mem::zeroed() };
    // SAFETY: `ts` is writable.
    unsafe { bindings::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Checkpoints the current process and records the outcome.
fn take_current(registry: &Registry) {
    // SAFETY: the current task is always valid.
    let task = unsafe { bindings::get_current() };
    // SAFETY: as above.
    if unsafe { (*task).flags } & bindings::PF_EXITING != 0 {
        registry.finish(task, None);
        return;
    }
    let Ok(mut path) = KVec::with_capacity(PATH_MAX, GFP_KERNEL) else {
        registry.finish(task, Some(failed(Failure::new("memory", ENOMEM))));
        return;
    };
    let Some(request) = registry.request(task, &mut path) else {
        return; // deregistered meanwhile
    };
    // SAFETY: plain clock read.
    let start = unsafe { bindings::ktime_get() as u64 };
    let outcome = match write_dump(task, &request, &path) {
        Ok(size) => {
            // SAFETY: plain clock read.
            let usec = (unsafe { bindings::ktime_get() as u64 } - start) / 1000;
            Last::Ok {
                time: now().0,
                size,
                usec,
            }
        }
        Err(f) => {
            pr_warn!(
                "checkpoint of pid {} failed at step {}: error {}\n",
                // SAFETY: current's pid.
                unsafe { (*task).tgid },
                f.step,
                f.error.to_errno()
            );
            failed(f)
        }
    };
    registry.finish(task, Some(outcome));
}

fn failed(f: Failure) -> Last<'static> {
    Last::Failed {
        time: now().0,
        errno: (-f.error.to_errno()) as u32,
        step: f.step,
    }
}

fn release() -> [u8; RELEASE_MAX] {
    let mut out = [0u8; RELEASE_MAX];
    // SAFETY: the kernel release is a static NUL-terminated string.
    let release = unsafe { kernel::str::CStr::from_char_ptr(bindings::chpox_kernel_release()) };
    for (o, &c) in out.iter_mut().zip(release.as_bytes()) {
        *o = c;
    }
    out
}

/// What the processes of a tree hand from one to the next while they dump
/// themselves: the dump being written and the open files seen so far.
pub(crate) struct TreeDump {
    file: DumpFile,
    objects: Objects,
    registrant: Credentials,
    /// The first failure; later processes then add nothing.
    failure: Option<Failure>,
}

impl TreeDump {
    /// Adds the current process as process `index` of the dump.
    pub(crate) fn add_current(&mut self, index: u32) {
        if self.failure.is_some() {
            return;
        }
        let _fsize = FsizeLimitLifted::new(dump::current());
        let _creds = CredentialsOverride::new(&self.registrant);
        self.file.set_process(index);
        if let Err(f) = dump::write_current(&mut self.file, &mut self.objects) {
            self.failure = Some(f);
        }
    }
}

/// Whether `member` may be dumped with the root: single-threaded (for
/// now), alive, dumpable and of the root's very user and group, so that a
/// registration of the root reaches nothing its registrant could not
/// register itself.
fn check_member(member: &TaskRef, root: &Credentials) -> StepResult<()> {
    // SAFETY: the reference keeps the task and its signal_struct alive.
    if unsafe { (*(*member.as_ptr()).signal).nr_threads } != 1 {
        return Err(Failure::new("threads", dump::EOPNOTSUPP()));
    }
    let (uids, gids) = member.credentials().ids();
    if (uids, gids) != root.ids() || !member.dumpable() {
        return Err(Failure::new("tree", EPERM));
    }
    Ok(())
}

/// Whether the registrant may still checkpoint `member`: what it was
/// allowed at registration may have changed since (an `execve()` of a
/// set-id program, a new member of the tree).
fn check_registrant(member: &TaskRef, request: &Request) -> StepResult<()> {
    if request.privileged || request.registrant.may_checkpoint_as_user(member) {
        Ok(())
    } else {
        Err(Failure::new("permission", EPERM))
    }
}

/// Stops the process tree of the current process (just the process without
/// [`FLAG_DESCENDANTS`]) and writes its dump to `path` as the registrant.
fn write_dump(task: *mut bindings::task_struct, request: &Request, path: &[u8]) -> StepResult<u64> {
    let registrant = &request.registrant;
    let freeze = Freeze::new().map_err(|e| Failure::new("memory", e))?;
    let stopped = freeze.stop(request.flags & FLAG_DESCENDANTS != 0)?;
    let root = TaskRef::current();
    check_registrant(&root, request)?;
    let root_creds = root.credentials();
    stopped.check_members(|m| {
        check_member(m, &root_creds)?;
        check_registrant(m, request)
    })?;
    let processes = stopped.members() as u32;
    // The dump file is created and removed with the registrant's rights.
    let _creds = CredentialsOverride::new(registrant);
    let (_, name) = split_path(path).map_err(|e| Failure::new("open", e))?;
    let file = DumpFile::create(&request.dir, name).map_err(|e| Failure::new("open", e))?;
    let mut job = KBox::new(
        TreeDump {
            file,
            objects: Objects::new(),
            registrant: registrant.clone(),
            failure: None,
        },
        GFP_KERNEL,
    )
    .map_err(|e| Failure::new("memory", e.into()))?;
    job.add_current(0);
    let mut job = if processes > 1 {
        stopped.turns(job)?
    } else {
        job
    };
    if let Some(f) = job.failure.take() {
        return Err(f);
    }
    let _fsize = FsizeLimitLifted::new(task);
    let TreeDump {
        mut file, objects, ..
    } = KBox::into_inner(job);
    file.set_process(0);
    objects.write(&mut file)?;
    dump::write_clocks(&mut file);
    file.error().map_err(|e| Failure::new("write", e))?;
    // Everything is in the file: the tree may go on while it is committed.
    drop(objects);
    drop(stopped);
    let (created_sec, created_nsec) = now();
    let header = Header {
        arch: ARCH_X86_64,
        created_sec,
        created_nsec,
        processes,
        sections: 0,
        release: release(),
        file_size: 0,
    };
    file.commit(header).map_err(|e| Failure::new("commit", e))
}
