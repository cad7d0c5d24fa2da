// SPDX-License-Identifier: GPL-2.0

//! Bringing a process tree to a stop before anything of it is dumped.
//!
//! The root (running its checkpoint as task work) queues a [`MemberWork`]
//! on every descendant. Each member stops in it, in its own context with its
//! user registers saved, and waits. When all have arrived, the root hands
//! out turns: each member dumps itself into the shared dump while every
//! other one waits, so nothing crosses between them (pipe bytes, socket
//! messages) until all are released together at the end.

use crate::checkpoint::TreeDump;
use crate::failure::{At, Failure, Step, StepResult};
use crate::kernel_ext::errno::ETIMEDOUT;
use crate::kernel_ext::rcu::RcuReadGuard;
use crate::kernel_ext::system::monotonic_ns;
use crate::kernel_ext::task::{self, current_task, fatal_signal_pending, Task, TaskExt};
use crate::kernel_ext::task_work::{self, When};
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, CondVarTimeoutResult, Mutex};
use kernel::types::ARef;

/// How long the root waits for the members to stop. A member in an
/// uninterruptible sleep or stopped by SIGSTOP does not arrive; the
/// checkpoint then fails with ETIMEDOUT and every member goes on.
pub(crate) const ARRIVAL_TIMEOUT_MS: u32 = 10_000;

/// Largest tree checkpointed at once.
const MEMBERS_MAX: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The root is waiting for the members to arrive.
    Gathering,
    /// Member `n` dumps itself.
    Turn(usize),
    /// Over: every member returns to what it was doing.
    Released,
}

struct Member {
    task: ARef<Task>,
    arrived: bool,
}

struct State {
    /// Index 0 is the root; parents come before their children.
    members: KVec<Member>,
    phase: Phase,
    /// The dump, held by whoever's turn it is.
    job: Option<KBox<TreeDump>>,
    /// A member exited or was killed before the end.
    lost: bool,
}

/// One checkpoint of a tree.
#[pin_data]
pub(crate) struct Freeze {
    #[pin]
    state: Mutex<State>,
    #[pin]
    changed: CondVar,
}

/// The stop of a member, as task work.
struct MemberWork {
    freeze: Arc<Freeze>,
    index: usize,
}

impl task_work::Work for MemberWork {
    fn run(self) {
        self.freeze.member_stops(self.index);
    }
}

/// What ended a wait.
enum Woken {
    /// The condition holds.
    Done,
    /// The time ran out.
    Timeout,
    /// A fatal signal: the waiter is being killed.
    Killed,
}

impl Freeze {
    /// A freeze whose only member so far is the current task, its root.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let root = current_task();
        let mut members = KVec::new();
        members.push(
            Member {
                task: root,
                arrived: true,
            },
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            pin_init!(Freeze {
                state <- new_mutex!(State {
                    members,
                    phase: Phase::Gathering,
                    job: None,
                    lost: false,
                }),
                changed <- new_condvar!(),
            }),
            GFP_KERNEL,
        )
    }

    /// Waits, with the lock held in `guard`, until `done` holds, at most
    /// `timeout_ms` (0: no limit). Only a fatal signal interrupts: other
    /// pending signals wait for the end of the checkpoint.
    fn wait(
        &self,
        guard: &mut Guard<'_, State, MutexBackend>,
        timeout_ms: u32,
        done: impl Fn(&State) -> bool,
    ) -> Woken {
        let now_ms = || monotonic_ns() / 1_000_000;
        let start = now_ms();
        loop {
            if done(guard) {
                return Woken::Done;
            }
            let waited = now_ms() - start;
            let left = if timeout_ms == 0 {
                1000
            } else if waited >= timeout_ms as u64 {
                return Woken::Timeout;
            } else {
                timeout_ms - waited as u32
            };
            let left = kernel::time::msecs_to_jiffies(left);
            if let CondVarTimeoutResult::Signal { .. } =
                self.changed.wait_interruptible_timeout(guard, left)
            {
                if fatal_signal_pending() {
                    return Woken::Killed;
                }
                // Another signal is pending: it is delivered once the
                // checkpoint is over. Meanwhile, poll instead of spinning.
                task::sleep_ms(10);
            }
        }
    }

    /// Stops the tree: every descendant of the root if `descendants`,
    /// including children forked while the stop is under way. On success
    /// the returned guard keeps all of them stopped until it is dropped.
    pub(crate) fn stop(self: &Arc<Self>, descendants: bool) -> StepResult<Stopped> {
        let stopped = Stopped(self.clone());
        if !descendants {
            return Ok(stopped);
        }
        loop {
            let new = self.new_descendants().at(Step::Freeze)?;
            let mut st = self.state.lock();
            if new.is_empty() && st.members.iter().all(|m| m.arrived) {
                return Ok(stopped);
            }
            for task in new {
                let index = st.members.len();
                if index >= MEMBERS_MAX {
                    return Err(Failure::new(Step::Freeze, E2BIG));
                }
                let work = MemberWork {
                    freeze: self.clone(),
                    index,
                };
                // The member stops at its next signal check, leaving an
                // interruptible sleep for it.
                if !task_work::queue(&task, work, When::Signal, GFP_KERNEL) {
                    // It is exiting: no longer part of the tree.
                    continue;
                }
                st.members
                    .push(
                        Member {
                            task,
                            arrived: false,
                        },
                        GFP_KERNEL,
                    )
                    .map_err(|e| Failure::new(Step::Freeze, e.into()))?;
            }
            let all_arrived = |s: &State| s.lost || s.members.iter().all(|m| m.arrived);
            match self.wait(&mut st, ARRIVAL_TIMEOUT_MS, all_arrived) {
                Woken::Done if st.lost => return Err(Failure::new(Step::Freeze, EAGAIN)),
                Woken::Done => {}
                Woken::Timeout => {
                    for m in st.members.iter().filter(|m| !m.arrived) {
                        pr_warn!(
                            "pid {} did not stop for the checkpoint in time\n",
                            m.task.pid()
                        );
                    }
                    return Err(Failure::new(Step::Freeze, ETIMEDOUT()));
                }
                Woken::Killed => return Err(Failure::new(Step::Freeze, EINTR)),
            }
        }
    }

    /// The live descendants of the root that are not members yet, parents
    /// before children.
    fn new_descendants(&self) -> Result<KVec<ARef<Task>>> {
        let known: KVec<ARef<Task>> = {
            let st = self.state.lock();
            let mut v = KVec::with_capacity(st.members.len(), GFP_KERNEL)?;
            for m in st.members.iter() {
                v.push(m.task.clone(), GFP_KERNEL)?;
            }
            v
        };
        let Some(root) = known.first() else {
            return Ok(KVec::new());
        };
        // Room for a good many new ones: nothing can be allocated with
        // GFP_KERNEL under RCU.
        let mut found = KVec::with_capacity(64, GFP_KERNEL)?;
        let rcu = RcuReadGuard::new();
        for p in task::processes(&rcu) {
            let is_known = known.iter().any(|k| core::ptr::eq::<Task>(&**k, p));
            if !is_known && p.is_live() && p.descends_from(root, &rcu) {
                found.push(ARef::from(p), GFP_ATOMIC)?;
            }
        }
        Ok(found)
    }

    /// Run by each member in its own context: stop, dump itself in its turn,
    /// wait for the release.
    fn member_stops(&self, index: usize) {
        let mut st = self.state.lock();
        if current_task().exiting() {
            // Run from the exit path: this member is gone.
            st.lost = true;
            self.changed.notify_all();
            return;
        }
        if st.phase == Phase::Released {
            return; // too late, the checkpoint is over
        }
        if let Some(m) = st.members.get_mut(index) {
            m.arrived = true;
        }
        self.changed.notify_all();
        loop {
            // The root exiting in the middle (killed) releases everyone too.
            let my_turn = |s: &State| {
                s.phase == Phase::Turn(index)
                    || s.phase == Phase::Released
                    || s.members.first().is_some_and(|root| root.task.exiting())
            };
            if let Woken::Killed = self.wait(&mut st, 0, my_turn) {
                st.lost = true;
                self.changed.notify_all();
                return;
            }
            if st.phase != Phase::Turn(index) {
                return;
            }
            let Some(mut job) = st.job.take() else {
                st.lost = true;
                self.changed.notify_all();
                return;
            };
            drop(st);
            job.add_current(index as u32);
            st = self.state.lock();
            st.job = Some(job);
            st.phase = Phase::Turn(index + 1);
            self.changed.notify_all();
        }
    }
}

/// A stopped tree; dropping it lets every member go on.
pub(crate) struct Stopped(Arc<Freeze>);

impl Stopped {
    /// Number of members, the root included.
    pub(crate) fn members(&self) -> usize {
        self.0.state.lock().members.len()
    }

    /// Calls `check` on every member but the root; the first error wins.
    pub(crate) fn check_members(&self, check: impl Fn(&Task) -> StepResult<()>) -> StepResult<()> {
        let st = self.0.state.lock();
        st.members.iter().try_for_each(|m| check(&m.task))
    }

    /// Gives every member after the root its turn to add itself to `job`,
    /// in order, and returns the job.
    pub(crate) fn turns(&self, job: KBox<TreeDump>) -> StepResult<KBox<TreeDump>> {
        let freeze = &self.0;
        let mut st = freeze.state.lock();
        let n = st.members.len();
        st.job = Some(job);
        st.phase = Phase::Turn(1);
        freeze.changed.notify_all();
        let done = |s: &State| s.lost || s.phase == Phase::Turn(n);
        let woken = freeze.wait(&mut st, 0, done);
        let job = st.job.take();
        match (woken, job) {
            (Woken::Done, Some(job)) if !st.lost => Ok(job),
            (Woken::Killed, _) => Err(Failure::new(Step::Freeze, EINTR)),
            _ => Err(Failure::new(Step::Freeze, EAGAIN)),
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let mut st = self.0.state.lock();
        st.phase = Phase::Released;
        st.job = None;
        self.0.changed.notify_all();
    }
}
