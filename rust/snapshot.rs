// SPDX-License-Identifier: GPL-2.0

//! The forked snapshot ([`FLAG_SNAPSHOT`]): the process stops only while
//! its registers, files, signals and memory map are written, then forks a
//! copy-on-write copy of itself, and goes on while that copy, which never
//! runs a user instruction, writes the contents of its memory and commits
//! the dump. The copy's memory is the process's at the fork, which comes
//! right after the rest was written with every thread stopped: the dump is
//! one instant.
//!
//! The process is made to fork and, once the copy has written, to reap it
//! (`wait4()`), through [`inject`]: nothing exported forks or reaps from a
//! module. Stages, each in the context named:
//!
//! 1. the root of the checkpoint, its tree stopped: [`start`] injects the
//!    fork;
//! 2. the root, back from `clone()`: the copy gets [`CopyWrites`] as task
//!    work and the process's threads go on; if there is no copy, the root
//!    writes the pages itself, still stopped, as without the flag;
//! 3. the copy: writes, commits, asks the process to reap it
//!    ([`ReapCopy`]) and kills itself;
//! 4. a thread of the process: injects `wait4()`, and the outcome is
//!    recorded once it is back.
//!
//! [`FLAG_SNAPSHOT`]: crate::abi::registration::FLAG_SNAPSHOT

use crate::abi::dump::Header;
use crate::abi::registration::Last;
use crate::checkpoint::outcome;
use crate::dump::{write_deferred, DeferredPages};
use crate::failure::{At, Failure, Step, StepResult};
use crate::freeze::Stopped;
use crate::kernel_ext::cred::{Credential, CredentialOverride};
use crate::kernel_ext::inject::{self, Landing, Resume, Syscall};
use crate::kernel_ext::pid::Pid;
use crate::kernel_ext::rcu::RcuReadGuard;
use crate::kernel_ext::task::{self, current_task, kill_current, FileSizeLimitLifted, Task, TaskExt};
use crate::kernel_ext::task_work::{self, When};
use crate::registry::Registry;
use crate::writer::DumpFile;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};
use kernel::types::ARef;

/// What is left to write once the process has forked.
pub(crate) struct Rest {
    pub(crate) file: DumpFile,
    pub(crate) pages: DeferredPages,
    pub(crate) header: Header,
    pub(crate) registrant: ARef<Credential>,
}

impl Rest {
    /// Writes the pages from the current process (the copy, or the
    /// process itself if there is none) and commits the dump.
    fn write(self) -> StepResult<u64> {
        let Rest {
            mut file,
            pages,
            header,
            registrant,
        } = self;
        let _fsize = FileSizeLimitLifted::new();
        let _creds = CredentialOverride::new(&registrant);
        write_deferred(&mut file, &pages)?;
        file.error().at(Step::Write)?;
        file.commit(header).at(Step::Commit)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The root is making `clone()`.
    Forking,
    /// The copy writes.
    Writing,
    /// A thread of the process is making `wait4()`.
    Reaping,
    /// The outcome is recorded.
    Over,
}

struct State {
    stage: Stage,
    /// Keeps the process's other threads stopped until the fork.
    stopped: Option<Stopped>,
    rest: Option<Rest>,
    /// The copy, once forked.
    copy: Option<ARef<Task>>,
    outcome: Option<Last<'static>>,
}

/// One forked checkpoint.
#[pin_data(PinnedDrop)]
pub(crate) struct Snapshot {
    registry: Arc<Registry>,
    /// A thread of the registered process (the root).
    process: ARef<Task>,
    /// When the checkpoint began, for its duration.
    start_ns: u64,
    #[pin]
    state: Mutex<State>,
}

#[pinned_drop]
impl PinnedDrop for Snapshot {
    fn drop(self: Pin<&mut Self>) {
        // The last reference goes without an outcome: the process or the
        // copy was killed on the way.
        let st = self.state.lock();
        if st.stage != Stage::Over {
            let lost = Failure::new(Step::Memory, EINTR);
            drop(st);
            self.registry
                .finish(&self.process, Some(outcome(Err(lost), self.start_ns)));
        }
    }
}

/// Forks the current process for the rest of its dump (stage 1). On
/// failure (the process cannot be made to fork, see [`inject`]) nothing
/// has changed and `rest` and `stopped` come back, for the caller to write
/// the pages as it would without the flag.
pub(crate) fn start(
    registry: &Arc<Registry>,
    start_ns: u64,
    stopped: Stopped,
    rest: Rest,
) -> core::result::Result<(), (Stopped, Rest)> {
    let snapshot = Arc::pin_init(
        pin_init!(Snapshot {
            registry: registry.clone(),
            process: current_task(),
            start_ns,
            state <- new_mutex!(State {
                stage: Stage::Forking,
                stopped: None,
                rest: None,
                copy: None,
                outcome: None,
            }),
        }),
        GFP_KERNEL,
    );
    let Ok(snapshot) = snapshot else {
        return Err((stopped, rest));
    };
    {
        let mut st = snapshot.state.lock();
        st.stopped = Some(stopped);
        st.rest = Some(rest);
    }
    if inject::inject(Syscall::Fork, snapshot.clone()).is_ok() {
        return Ok(());
    }
    let mut st = snapshot.state.lock();
    st.stage = Stage::Over;
    match (st.stopped.take(), st.rest.take()) {
        (Some(stopped), Some(rest)) => Err((stopped, rest)),
        _ => Ok(()),
    }
}

impl Landing for Snapshot {
    fn landed(this: Arc<Self>, result: i64, resume: Resume) {
        let stage = this.state.lock().stage;
        match stage {
            Stage::Forking => this.forked(result, resume),
            Stage::Reaping => {
                resume.finish();
                this.record();
            }
            Stage::Writing | Stage::Over => drop(resume),
        }
    }
}

impl Snapshot {
    /// Stage 2, in the root back from `clone()` with `result`.
    fn forked(self: &Arc<Self>, result: i64, resume: Resume) {
        let copy = i32::try_from(result)
            .ok()
            .filter(|&pid| pid > 0)
            .and_then(Pid::find)
            .and_then(|pid| pid.process())
            .filter(|c| c.forked_by(&current_task()));
        let given = copy.as_ref().is_some_and(|c| {
            let work = CopyWrites(self.clone());
            task_work::queue(c, work, When::Resume, GFP_KERNEL)
        });
        let mut st = self.state.lock();
        let stopped = st.stopped.take();
        if given {
            st.stage = Stage::Writing;
            st.copy = copy;
            drop(st);
            // The copy is taken: the threads go on.
            drop(stopped);
            resume.finish();
            return;
        }
        // No copy to write: the pages are written now, still stopped.
        let rest = st.rest.take();
        drop(st);
        let written = rest.map_or(Err(Failure::new(Step::Memory, EINVAL)), Rest::write);
        drop(stopped);
        resume.finish();
        self.state.lock().outcome = Some(outcome(written, self.start_ns));
        match copy {
            // A copy that exists but could not take its work is exiting:
            // it is reaped like one that wrote.
            Some(c) => {
                self.state.lock().copy = Some(c);
                self.reap_later();
            }
            None => self.record(),
        }
    }

    /// Stage 3, in the copy.
    fn copy_writes(self: &Arc<Self>) {
        let me = current_task();
        let rest = self.state.lock().rest.take();
        let written = match rest {
            Some(rest) if !me.exiting() => rest.write(),
            _ => Err(Failure::new(Step::Memory, EINTR)),
        };
        if let Err(f) = &written {
            pr_warn!(
                "checkpoint of pid {}: its copy failed at step {}: error {}\n",
                self.process.tgid(),
                f.step.name(),
                f.error.to_errno()
            );
        }
        self.state.lock().outcome = Some(outcome(written, self.start_ns));
        self.reap_later();
        kill_current();
    }

    /// Asks a thread of the process to reap the copy (stage 4). If none
    /// can be asked, the process is exiting, and whoever inherits the copy
    /// reaps it.
    fn reap_later(self: &Arc<Self>) {
        let queue_on = |t: &Task| task_work::queue(t, ReapCopy(self.clone()), When::Signal, GFP_ATOMIC);
        if queue_on(&self.process) {
            return;
        }
        let asked = {
            let rcu = RcuReadGuard::new();
            let mut threads = task::threads(&self.process, &rcu);
            threads.any(|t| t.is_live() && queue_on(t))
        };
        if !asked {
            self.record();
        }
    }

    /// Stage 4, in a thread of the process.
    fn reap(self: &Arc<Self>) {
        let pid = {
            let mut st = self.state.lock();
            st.stage = Stage::Reaping;
            st.copy.as_ref().map(|c| c.tgid())
        };
        let injected = match pid {
            Some(pid) if !current_task().exiting() => {
                inject::inject(Syscall::Reap(pid), self.clone()).is_ok()
            }
            _ => false,
        };
        if !injected {
            if pid.is_some() && !current_task().exiting() {
                pr_warn!(
                    "checkpoint of pid {}: its copy {} is left for its parent to reap\n",
                    self.process.tgid(),
                    pid.unwrap_or(0)
                );
            }
            self.record();
        }
    }

    /// Records the outcome in the registry, once.
    fn record(&self) {
        let mut st = self.state.lock();
        if st.stage == Stage::Over {
            return;
        }
        st.stage = Stage::Over;
        let lost = || outcome(Err(Failure::new(Step::Memory, EINTR)), self.start_ns);
        let last = st.outcome.take().unwrap_or_else(lost);
        drop(st);
        self.registry.finish(&self.process, Some(last));
    }
}

/// Stage 3 as task work of the copy.
struct CopyWrites(Arc<Snapshot>);

impl task_work::Work for CopyWrites {
    fn run(self) {
        self.0.copy_writes();
    }
}

/// Stage 4 as task work of a thread of the process.
struct ReapCopy(Arc<Snapshot>);

impl task_work::Work for ReapCopy {
    fn run(self) {
        self.0.reap();
    }
}
