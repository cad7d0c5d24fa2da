// SPDX-License-Identifier: GPL-2.0

//! The checkpoint of one process, run as task work in the process's own
//! context: at the start of `get_signal()`, where its user registers are
//! saved and it runs no user code, so its state cannot change under us.

use crate::abi::dump::{Header, ARCH_X86_64, RELEASE_MAX};
use crate::abi::registration::{Last, FLAG_COMPRESS, FLAG_DESCENDANTS, FLAG_SNAPSHOT, PATH_MAX};
use crate::dump::{self, DeferredPages, Objects, PageCompressor};
use crate::failure::{At, Failure, Step, StepResult};
use crate::freeze::Freeze;
use crate::kernel_ext::cred::{Credential, CredentialOverride};
use crate::kernel_ext::system::{kernel_release, monotonic_ns, wall_clock};
use crate::kernel_ext::task::{current_task, FileSizeLimitLifted, Task, TaskExt};
use crate::kernel_ext::task_work::{self, When};
use crate::permission::may_checkpoint_as_user;
use crate::registry::{Registry, Request};
use crate::snapshot;
use crate::writer::{split_path, DumpFile};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ARef;

/// The checkpoint, as task work for the process to run.
struct CheckpointWork(Arc<Registry>);

impl task_work::Work for CheckpointWork {
    fn run(self) {
        take_current(&self.0);
    }
}

/// Queues the checkpoint of `target`'s process on `target`, or on another
/// thread of it if `target` has exited (`kill` picks the main thread,
/// which may have ended while others run). Called by the trigger, in
/// atomic context, with the target's siglock held. Returns false if it
/// could not be queued.
pub(crate) fn queue(target: &Task, registry: &Arc<Registry>) -> bool {
    // TWA_SIGNAL: the thread enters get_signal() soon, leaving an
    // interruptible sleep if it is in one.
    let work = || CheckpointWork(registry.clone());
    task_work::queue_on_process(target, work, When::Signal, GFP_ATOMIC)
}

/// Checkpoints the current process and records the outcome (or leaves
/// that to its forked snapshot).
fn take_current(registry: &Arc<Registry>) {
    let task = current_task();
    if task.exiting() {
        registry.finish(&task, None);
        return;
    }
    let Ok(mut path) = KVec::with_capacity(PATH_MAX, GFP_KERNEL) else {
        registry.finish(&task, Some(failed(Failure::new(Step::Memory, ENOMEM))));
        return;
    };
    let Some(request) = registry.request(&task, &mut path) else {
        return; // deregistered meanwhile
    };
    let start = monotonic_ns();
    let result = match write_dump(&request, &path, registry, start) {
        Ok(Dumped::Forked) => return, // the snapshot records the outcome
        Ok(Dumped::Written(size)) => Ok(size),
        Err(f) => {
            pr_warn!(
                "checkpoint of pid {} failed at step {}: error {}\n",
                task.tgid(),
                f.step.name(),
                f.error.to_errno()
            );
            Err(f)
        }
    };
    registry.finish(&task, Some(outcome(result, start)));
}

/// What a checkpoint that began at `start_ns` (monotonic) came to.
pub(crate) fn outcome(result: StepResult<u64>, start_ns: u64) -> Last<'static> {
    match result {
        Ok(size) => Last::Ok {
            time: wall_clock().0,
            size,
            usec: monotonic_ns().saturating_sub(start_ns) / 1000,
        },
        Err(f) => failed(f),
    }
}

fn failed(f: Failure) -> Last<'static> {
    Last::Failed {
        time: wall_clock().0,
        errno: (-f.error.to_errno()) as u32,
        step: f.step.name(),
    }
}

fn release() -> [u8; RELEASE_MAX] {
    let mut out = [0u8; RELEASE_MAX];
    for (o, &c) in out.iter_mut().zip(kernel_release()) {
        *o = c;
    }
    out
}

/// What a thread adds to the dump in its turn.
#[derive(Clone, Copy)]
pub(crate) struct Part {
    /// Its process's number in the dump.
    process: u32,
    /// For the process's leader, the number of threads whose shared state
    /// (memory, files, dispositions) it dumps with its own.
    shares: Option<u32>,
}

impl Part {
    /// The leader's part: the process of `threads` threads, and itself.
    pub(crate) fn process(process: u32, threads: u32) -> Self {
        Part {
            process,
            shares: Some(threads),
        }
    }

    /// Another thread's part: itself.
    pub(crate) fn thread(process: u32) -> Self {
        Part {
            process,
            shares: None,
        }
    }
}

/// What the threads of a tree hand from one to the next while they dump
/// themselves: the dump being written and the open files seen so far.
pub(crate) struct TreeDump {
    file: DumpFile,
    objects: Objects,
    registrant: ARef<Credential>,
    /// The first failure; later processes then add nothing.
    failure: Option<Failure>,
    /// Whether a process's pages may be left for a forked copy of it.
    defer_pages: bool,
    /// The pages so left, by process number.
    deferred: KVec<(u32, DeferredPages)>,
}

impl TreeDump {
    /// Adds the current thread's `part` to the dump.
    pub(crate) fn add_current(&mut self, part: Part) {
        if self.failure.is_some() {
            return;
        }
        let _fsize = FileSizeLimitLifted::new();
        let _creds = CredentialOverride::new(&self.registrant);
        self.file.set_process(part.process);
        let shared = match part.shares {
            Some(threads) => {
                let defer = self.defer_pages;
                dump::write_process(&mut self.file, &mut self.objects, threads, defer).and_then(
                    |deferred| match deferred {
                        Some(pages) => self
                            .deferred
                            .push((part.process, pages), GFP_KERNEL)
                            .map_err(|e| Failure::new(Step::Memory, e.into())),
                        None => Ok(()),
                    },
                )
            }
            None => Ok(()),
        };
        if let Err(f) = shared.and_then(|()| dump::write_thread(&mut self.file)) {
            self.failure = Some(f);
        }
    }
}

/// Whether `member` (a thread) may be dumped with the root: dumpable and
/// of the root's very user and group, so that a registration of the root
/// reaches nothing its registrant could not register itself.
fn check_member(member: &Task, root: &Credential) -> StepResult<()> {
    if !same_ids(&member.credential(), root) || !member.dumpable() {
        return Err(Failure::new(Step::Tree, EPERM));
    }
    Ok(())
}

/// Whether both have the same real, effective and saved user and group ids.
fn same_ids(a: &Credential, b: &Credential) -> bool {
    a.uids()[..3] == b.uids()[..3] && a.gids()[..3] == b.gids()[..3]
}

/// Whether the registrant may still checkpoint `member`: what it was
/// allowed at registration may have changed since (an `execve()` of a
/// set-id program, a new member of the tree).
fn check_registrant(member: &Task, request: &Request) -> StepResult<()> {
    if request.privileged || may_checkpoint_as_user(&request.registrant, member) {
        Ok(())
    } else {
        Err(Failure::new(Step::Permission, EPERM))
    }
}

/// What became of a dump.
enum Dumped {
    /// Written and committed, this many bytes.
    Written(u64),
    /// Handed to a forked copy of the process, which will finish it.
    Forked,
}

/// Stops the process tree of the current thread's process (just the
/// process without [`FLAG_DESCENDANTS`]), every thread of it, and writes its
/// dump to `path` as the registrant.
fn write_dump(
    request: &Request,
    path: &[u8],
    registry: &Arc<Registry>,
    start_ns: u64,
) -> StepResult<Dumped> {
    let registrant = &request.registrant;
    let freeze = Freeze::new().at(Step::Memory)?;
    let stopped = freeze.stop(request.flags & FLAG_DESCENDANTS != 0)?;
    let root = current_task();
    check_registrant(&root, request)?;
    let root_creds = root.credential();
    stopped.check_members(|m| {
        check_member(m, &root_creds)?;
        check_registrant(m, request)
    })?;
    let processes = stopped.processes();
    // The dump file is created and removed with the registrant's rights.
    let creds = CredentialOverride::new(registrant);
    let (_, name) = split_path(path).at(Step::Open)?;
    let mut file = DumpFile::create(&request.dir, name).at(Step::Open)?;
    if request.flags & FLAG_COMPRESS != 0 {
        let compressor = PageCompressor::new().at(Step::Memory)?;
        file.compress_pages(compressor).at(Step::Memory)?;
    }
    let job = KBox::new(
        TreeDump {
            file,
            objects: Objects::new(),
            registrant: registrant.clone(),
            failure: None,
            defer_pages: request.flags & FLAG_SNAPSHOT != 0,
            deferred: KVec::new(),
        },
        GFP_KERNEL,
    )
    .map_err(|e| Failure::new(Step::Memory, e.into()))?;
    let mut job = stopped.turns(job)?;
    if let Some(f) = job.failure.take() {
        return Err(f);
    }
    let _fsize = FileSizeLimitLifted::new();
    let TreeDump {
        mut file,
        objects,
        deferred,
        ..
    } = KBox::into_inner(job);
    file.set_process(0);
    objects.write(&mut file)?;
    dump::write_clocks(&mut file);
    file.error().at(Step::Write)?;
    drop(objects);
    let (created_sec, created_nsec) = wall_clock();
    let header = Header {
        arch: ARCH_X86_64,
        created_sec,
        created_nsec,
        processes,
        sections: 0,
        release: release(),
        file_size: 0,
    };
    if !deferred.is_empty() {
        // The pages left for the processes' copies: written by them, or,
        // with no memory for the snapshot, here if they are the root's.
        match snapshot::Prepared::new(registry, start_ns, header, registrant.clone()) {
            Ok(snapshot) => {
                // The forks and their trampolines are the processes' own
                // doing; the copies write with the registrant's rights.
                drop(creds);
                snapshot.start(stopped, file, deferred);
                return Ok(Dumped::Forked);
            }
            Err(e) => {
                for (p, pages) in deferred.iter() {
                    if *p != 0 {
                        return Err(Failure::new(Step::Memory, e));
                    }
                    dump::write_deferred(&mut file, pages)?;
                }
                file.error().at(Step::Write)?;
            }
        }
    }
    // Everything is in the file: the tree may go on while it is committed.
    drop(stopped);
    file.commit(header).at(Step::Commit).map(Dumped::Written)
}
