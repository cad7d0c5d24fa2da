// SPDX-License-Identifier: GPL-2.0

//! The forked snapshot ([`FLAG_SNAPSHOT`]): the tree stops only while its
//! registers, files, signals and memory maps are written; then each of its
//! processes forks a copy-on-write copy of itself, and the tree goes on
//! while the copies, which never run a user instruction, write the
//! contents of its memory and commit the dump. No process of the tree runs
//! between the stop and the last fork, so the copies' memory and the rest
//! of the dump are of one instant.
//!
//! A process is made to fork and, once its copy has written, to reap it
//! (`wait4()`), through [`inject`]: nothing exported forks or reaps from a
//! module. Stages, each in the context named:
//!
//! 1. one thread of each process (the root for its own, the leader for the
//!    others, see [`ForkHook`]), the tree stopped: inject the fork;
//! 2. that thread, back from `clone()`: its copy gets [`CopyWrites`]; with
//!    no copy (the fork failed or could not be made) it writes its pages
//!    itself, still stopped. It waits until every process is there, then
//!    the tree goes on;
//! 3. each copy: writes its process's pages, the dump file lent to one
//!    copy at a time; the last commits the dump; asks its process to reap
//!    it ([`ReapCopy`]) and kills itself;
//! 4. a thread of each process: injects `wait4()`; once every copy is
//!    reaped, the outcome is recorded.
//!
//! [`FLAG_SNAPSHOT`]: crate::abi::registration::FLAG_SNAPSHOT

use crate::abi::dump::Header;
use crate::checkpoint::outcome;
use crate::dump::{write_deferred, DeferredPages};
use crate::failure::{At, Failure, Step, StepResult};
use crate::freeze::{ForkHook, Stopped};
use crate::kernel_ext::cred::{Credential, CredentialOverride};
use crate::kernel_ext::inject::{self, Landing, Resume, Syscall};
use crate::kernel_ext::pid::Pid;
use crate::kernel_ext::task::{current_task, kill_current, FileSizeLimitLifted, Task, TaskExt};
use crate::kernel_ext::task_work::{self, When};
use crate::registry::Registry;
use crate::wait::{wait_until, Woken};
use crate::writer::DumpFile;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};
use kernel::types::ARef;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The processes are forking; the tree is stopped.
    Forking,
    /// The copies write; the tree goes on.
    Writing,
    /// The outcome is recorded.
    Over,
}

/// One process of the dump, as the snapshot sees it.
struct Process {
    /// Its pages, until written.
    pages: Option<DeferredPages>,
    /// The thread that forked it, and the copy.
    forker: Option<ARef<Task>>,
    copy: Option<ARef<Task>>,
    /// The copy's exec count at the fork: a copy that has since run
    /// `execve()` (made to by a tracer) no longer holds the memory.
    exec_id: u64,
    /// Forked, or its pages written instead (or nothing to do).
    forked: bool,
    /// Its pages are written (or will never be).
    written: bool,
    /// Its copy is reaped (or there is none to reap here).
    reaped: bool,
}

struct State {
    stage: Stage,
    /// Keeps the tree stopped until every process has forked.
    stopped: Option<Stopped>,
    /// The dump, lent to one writer at a time.
    file: Option<DumpFile>,
    header: Header,
    processes: KVec<Process>,
    failure: Option<Failure>,
    size: u64,
}

/// One forked checkpoint.
#[pin_data(PinnedDrop)]
pub(crate) struct Snapshot {
    registry: Arc<Registry>,
    /// A thread of the registered process (the root).
    root: ARef<Task>,
    registrant: ARef<Credential>,
    /// When the checkpoint began, for its duration.
    start_ns: u64,
    #[pin]
    state: Mutex<State>,
    #[pin]
    changed: CondVar,
}

#[pinned_drop]
impl PinnedDrop for Snapshot {
    fn drop(self: Pin<&mut Self>) {
        // The last reference goes without an outcome: a process or a copy
        // was killed on the way.
        let over = self.state.lock().stage == Stage::Over;
        if !over {
            let lost = Failure::new(Step::Memory, EINTR);
            self.registry
                .finish(&self.root, Some(outcome(Err(lost), self.start_ns)));
        }
    }
}

/// A snapshot ready to start: what it needs allocated.
pub(crate) struct Prepared {
    snapshot: Arc<Snapshot>,
    forks: Arc<Forks>,
}

impl Prepared {
    /// A snapshot of a dump with `header`, written as `registrant`.
    pub(crate) fn new(
        registry: &Arc<Registry>,
        start_ns: u64,
        header: Header,
        registrant: ARef<Credential>,
    ) -> Result<Self> {
        let snapshot = Snapshot::new(registry, start_ns, header, registrant)?;
        let forks = Arc::new(Forks(snapshot.clone()), GFP_KERNEL)?;
        Ok(Prepared { snapshot, forks })
    }

    /// Forks every process of the stopped tree that has pages left in
    /// `pages` (by process number) (stage 1): the current one (the
    /// root's) by itself, the others through their members. Returns once
    /// the root is on its way to fork, or once every process has forked if
    /// the root does not; the snapshot records the outcome, and the rest
    /// of the dump is in `file`.
    pub(crate) fn start(self, stopped: Stopped, file: DumpFile, pages: KVec<(u32, DeferredPages)>) {
        let Prepared { snapshot, forks } = self;
        let root_forks = {
            let mut st = snapshot.state.lock();
            st.file = Some(file);
            for (p, pages) in pages {
                if let Some(process) = st.processes.get_mut(p as usize) {
                    *process = Process::to_fork(pages);
                }
            }
            st.processes.first().is_some_and(|p| !p.forked)
        };
        let asked = stopped.fork_members(forks);
        let processes = {
            let mut st = snapshot.state.lock();
            st.stopped = Some(stopped);
            st.processes.len() as u32
        };
        if !asked {
            // A process to fork has lost its thread (killed): the
            // checkpoint fails, and the tree goes on.
            (0..processes).for_each(|p| snapshot.lost(p));
            return;
        }
        if root_forks && snapshot.fork_current(0) {
            return;
        }
        // The root's process has forked (or written its pages instead):
        // it waits for the others like a member.
        snapshot.mark_forked(0, None);
        snapshot.wait_all_forked();
    }
}

/// The fork of each process but the root's, as its member asks it.
struct Forks(Arc<Snapshot>);

impl ForkHook for Forks {
    fn fork_current(&self, process: u32) -> bool {
        let snapshot = &self.0;
        if snapshot.fork_current(process) {
            return true;
        }
        snapshot.mark_forked(process, None);
        false
    }

    fn gone(&self, process: u32) {
        self.0.lost(process);
    }
}

impl Process {
    /// A process with nothing left to do.
    fn done() -> Self {
        Process {
            pages: None,
            forker: None,
            copy: None,
            exec_id: 0,
            forked: true,
            written: true,
            reaped: true,
        }
    }

    /// A process to fork, for `pages`.
    fn to_fork(pages: DeferredPages) -> Self {
        Process {
            pages: Some(pages),
            forked: false,
            written: false,
            reaped: false,
            ..Process::done()
        }
    }
}

impl Snapshot {
    fn new(
        registry: &Arc<Registry>,
        start_ns: u64,
        header: Header,
        registrant: ARef<Credential>,
    ) -> Result<Arc<Self>> {
        let mut processes = KVec::new();
        for _ in 0..header.processes {
            processes.push(Process::done(), GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Snapshot {
                registry: registry.clone(),
                root: current_task(),
                registrant,
                start_ns,
                state <- new_mutex!(State {
                    stage: Stage::Forking,
                    stopped: None,
                    file: None,
                    header,
                    processes,
                    failure: None,
                    size: 0,
                }),
                changed <- new_condvar!(),
            }),
            GFP_KERNEL,
        )
    }

    /// Has the current thread fork process `p`. Returns true if it is on
    /// its way; else its pages are written (or failed).
    fn fork_current(self: &Arc<Self>, p: u32) -> bool {
        let landing = Arc::new(
            ForkLanding {
                snapshot: self.clone(),
                process: p,
                reap: false,
                landed: AtomicBool::new(false),
            },
            GFP_KERNEL,
        );
        let injected = landing
            .map_err(Error::from)
            .and_then(|landing| ForkLanding::inject(landing, Syscall::Fork));
        if let Err(e) = injected {
            self.not_forked(e.to_errno());
            self.write_pages(p);
            return false;
        }
        true
    }

    /// Stage 2, in the thread back from `clone()` with `result`.
    fn forked(self: &Arc<Self>, p: u32, result: i64, resume: Resume) {
        let me = current_task();
        let copy = i32::try_from(result)
            .ok()
            .filter(|&pid| pid > 0)
            .and_then(Pid::find)
            .and_then(|pid| pid.process())
            .filter(|c| c.forked_by(&me));
        let given = copy.as_ref().is_some_and(|c| {
            let work = CopyWrites {
                snapshot: self.clone(),
                process: p,
            };
            task_work::queue(c, work, When::Resume, GFP_KERNEL)
        });
        if !given {
            // No copy to write: the pages are written now, still stopped.
            // A copy that exists but could not take its work is exiting:
            // it is reaped like one that wrote.
            self.not_forked(result.clamp(i32::MIN as i64, 0) as i32);
            self.write_pages(p);
        }
        let has_copy = copy.is_some();
        self.mark_forked(p, copy.map(|c| (me, c)));
        self.wait_all_forked();
        resume.finish();
        if has_copy && !given {
            self.reap_later(p);
        }
    }

    /// Records that process `p` has forked (`copy`: its forker and copy)
    /// or does not need to; the last one lets the tree go on.
    fn mark_forked(&self, p: u32, copy: Option<(ARef<Task>, ARef<Task>)>) {
        let mut st = self.state.lock();
        if let Some(process) = st.processes.get_mut(p as usize) {
            process.forked = true;
            if let Some((forker, copy)) = copy {
                process.exec_id = forker.exec_id();
                process.forker = Some(forker);
                process.copy = Some(copy);
            } else if process.pages.is_none() {
                // Nothing to write and no copy to reap.
                process.written = true;
                process.reaped = true;
            }
        }
        drop(st);
        self.all_forked();
    }

    /// If every process has forked: the copies may write, and the tree
    /// goes on.
    fn all_forked(&self) {
        let mut st = self.state.lock();
        if st.stage != Stage::Forking || !st.processes.iter().all(|p| p.forked) {
            return;
        }
        st.stage = Stage::Writing;
        let stopped = st.stopped.take();
        self.changed.notify_all();
        drop(st);
        drop(stopped);
        self.maybe_over();
    }

    /// Waits (killable) until every process has forked.
    fn wait_all_forked(&self) {
        let mut st = self.state.lock();
        let _ = wait_until(&self.changed, &mut st, 0, |s| s.stage != Stage::Forking);
    }

    /// Writes process `p`'s pages from the current process (the copy, or
    /// the process itself), with the dump file borrowed.
    fn write_pages(&self, p: u32) {
        let Some(pages) = self.take_pages(p) else {
            return self.written(p, Ok(()));
        };
        let Some(mut file) = self.borrow_file() else {
            return self.written(p, Ok(())); // failed meanwhile
        };
        let written = {
            let _fsize = FileSizeLimitLifted::new();
            let _creds = CredentialOverride::new(&self.registrant);
            file.set_process(p);
            write_deferred(&mut file, &pages).and_then(|()| file.error().at(Step::Write))
        };
        self.give_back(file);
        self.written(p, written);
    }

    /// Says that the current process writes its memory stopped.
    fn not_forked(&self, errno: i32) {
        pr_info!(
            "checkpoint of pid {}: pid {} cannot fork (error {}): its memory is written stopped\n",
            self.root.tgid(),
            current_task().tgid(),
            errno
        );
    }

    /// Process `p`'s pages, taken by whoever writes or drops them.
    fn take_pages(&self, p: u32) -> Option<DeferredPages> {
        let mut st = self.state.lock();
        st.processes.get_mut(p as usize)?.pages.take()
    }

    /// Process `p` will neither fork nor write: its thread was killed.
    fn lost(&self, p: u32) {
        drop(self.take_pages(p));
        self.written(p, Err(Failure::new(Step::Memory, EINTR)));
        self.mark_forked(p, None);
    }

    /// Waits for the dump file; None if the checkpoint failed.
    fn borrow_file(&self) -> Option<DumpFile> {
        let mut st = self.state.lock();
        let ready = |s: &State| s.file.is_some() || s.failure.is_some();
        if let Woken::Killed = wait_until(&self.changed, &mut st, 0, ready) {
            Self::fail(&mut st, Failure::new(Step::Write, EINTR));
            return None;
        }
        if st.failure.is_some() {
            return None;
        }
        st.file.take()
    }

    fn give_back(&self, file: DumpFile) {
        let mut st = self.state.lock();
        st.file = Some(file);
        self.changed.notify_all();
    }

    fn fail(st: &mut Guard<'_, State, MutexBackend>, f: Failure) {
        if st.failure.is_none() {
            st.failure = Some(f);
        }
    }

    /// Records that process `p`'s pages are written (or failed); the last
    /// commits the dump.
    fn written(&self, p: u32, result: StepResult<()>) {
        let mut st = self.state.lock();
        if let Err(f) = result {
            Self::fail(&mut st, f);
        }
        if let Some(process) = st.processes.get_mut(p as usize) {
            process.written = true;
        }
        self.changed.notify_all();
        if !st.processes.iter().all(|p| p.written) {
            return;
        }
        // The last: commit, or discard, the dump.
        let file = st.file.take();
        let header = st.header;
        let failed = st.failure.is_some();
        drop(st);
        let Some(file) = file else {
            return;
        };
        if failed {
            drop(file);
            return;
        }
        let committed = {
            let _creds = CredentialOverride::new(&self.registrant);
            file.commit(header).at(Step::Commit)
        };
        let mut st = self.state.lock();
        match committed {
            Ok(size) => st.size = size,
            Err(f) => Self::fail(&mut st, f),
        }
        drop(st);
        self.maybe_over();
    }

    /// Stage 3, in the copy of process `p`.
    fn copy_writes(self: &Arc<Self>, p: u32) {
        let killed = {
            let mut st = self.state.lock();
            let woken = wait_until(&self.changed, &mut st, 0, |s| s.stage != Stage::Forking);
            matches!(woken, Woken::Killed)
        };
        let me = current_task();
        let exec_id = {
            let st = self.state.lock();
            st.processes.get(p as usize).map(|x| x.exec_id)
        };
        if killed || me.exiting() {
            self.written(p, Err(Failure::new(Step::Memory, EINTR)));
        } else if exec_id != Some(me.exec_id()) {
            self.written(p, Err(Failure::new(Step::Memory, EPERM)));
        } else {
            self.write_pages(p);
        }
        self.reap_later(p);
        kill_current();
    }

    /// Asks a thread of process `p` to reap its copy (stage 4). If none can
    /// be asked, the process is exiting, and whoever inherits the copy
    /// reaps it.
    fn reap_later(self: &Arc<Self>, p: u32) {
        let forker = self
            .state
            .lock()
            .processes
            .get(p as usize)
            .and_then(|x| x.forker.clone());
        let Some(forker) = forker else {
            return self.reaped(p);
        };
        let work = || ReapCopy {
            snapshot: self.clone(),
            process: p,
        };
        if !task_work::queue_on_process(&forker, work, When::Signal, GFP_ATOMIC) {
            self.reaped(p);
        }
    }

    /// Stage 4, in a thread of process `p`.
    fn reap(self: &Arc<Self>, p: u32) {
        let copy = {
            let st = self.state.lock();
            st.processes
                .get(p as usize)
                .and_then(|x| x.copy.as_ref().map(|c| c.tgid()))
        };
        if let Some(pid) = copy.filter(|_| !current_task().exiting()) {
            let landing = Arc::new(
                ForkLanding {
                    snapshot: self.clone(),
                    process: p,
                    reap: true,
                    landed: AtomicBool::new(false),
                },
                GFP_KERNEL,
            );
            if let Ok(landing) = landing {
                if ForkLanding::inject(landing, Syscall::Reap(pid)).is_ok() {
                    return;
                }
            }
            pr_warn!("checkpoint: copy {} is left for its parent to reap\n", pid);
        }
        self.reaped(p);
    }

    fn reaped(&self, p: u32) {
        let mut st = self.state.lock();
        if let Some(process) = st.processes.get_mut(p as usize) {
            process.reaped = true;
        }
        drop(st);
        self.maybe_over();
    }

    /// Records the outcome once every copy has written and is reaped.
    fn maybe_over(&self) {
        let mut st = self.state.lock();
        let done = |p: &Process| p.written && p.reaped;
        if st.stage != Stage::Writing || !st.processes.iter().all(done) {
            return;
        }
        st.stage = Stage::Over;
        let result = match st.failure.take() {
            Some(f) => Err(f),
            None => Ok(st.size),
        };
        drop(st);
        if let Err(f) = &result {
            pr_warn!(
                "checkpoint of pid {} failed at step {}: error {}\n",
                self.root.tgid(),
                f.step.name(),
                f.error.to_errno()
            );
        }
        self.registry
            .finish(&self.root, Some(outcome(result, self.start_ns)));
    }
}

/// The landing of a process's fork or reap.
struct ForkLanding {
    snapshot: Arc<Snapshot>,
    process: u32,
    reap: bool,
    landed: AtomicBool,
}

impl ForkLanding {
    /// Has the current thread make `call`, landing in `this`. If that
    /// cannot be done, `this` is let go without counting as a thread lost
    /// on the way: the caller does instead what the landing would have.
    fn inject(this: Arc<Self>, call: Syscall) -> Result {
        let result = inject::inject(call, this.clone());
        if result.is_err() {
            this.landed.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl Landing for ForkLanding {
    fn landed(this: Arc<Self>, result: i64, resume: Resume) {
        this.landed.store(true, Ordering::Relaxed);
        if this.reap {
            resume.finish();
            this.snapshot.reaped(this.process);
        } else {
            this.snapshot.forked(this.process, result, resume);
        }
    }
}

impl Drop for ForkLanding {
    fn drop(&mut self) {
        if self.landed.load(Ordering::Relaxed) {
            return;
        }
        // Its thread was killed before it came back.
        if self.reap {
            self.snapshot.reaped(self.process);
        } else {
            self.snapshot.lost(self.process);
        }
    }
}

/// Stage 3 as task work of a copy.
struct CopyWrites {
    snapshot: Arc<Snapshot>,
    process: u32,
}

impl task_work::Work for CopyWrites {
    fn run(self) {
        self.snapshot.copy_writes(self.process);
    }
}

/// Stage 4 as task work of a thread of a process.
struct ReapCopy {
    snapshot: Arc<Snapshot>,
    process: u32,
}

impl task_work::Work for ReapCopy {
    fn run(self) {
        self.snapshot.reap(self.process);
    }
}
