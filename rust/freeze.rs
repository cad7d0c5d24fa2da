// SPDX-License-Identifier: GPL-2.0

//! Bringing a process tree to a stop before anything of it is dumped.
//!
//! The thread that caught the trigger, running the checkpoint as task work
//! (the root), queues a [`MemberWork`] on every other thread of its process
//! and, for a tree, on every thread of every descendant. Each stops in it,
//! in its own context with its user registers saved, and waits. When all
//! have arrived, turns are dealt: process by process, its leader dumps what
//! the threads share and its own state, then each other thread its own,
//! while every other one waits, so nothing crosses between them (pipe
//! bytes, socket messages, a thread's store into memory being dumped) until
//! all are released together at the end. For a forked snapshot, the leader
//! of each process but the root's is then asked to fork ([`ForkHook`]) and
//! leaves the wait to do so; the others wait for the release, which comes
//! once every process has forked.

use crate::checkpoint::{Part, TreeDump};
use crate::failure::{At, Failure, Step, StepResult};
use crate::kernel_ext::errno::{EOPNOTSUPP, ETIMEDOUT};
use crate::kernel_ext::rcu::RcuReadGuard;
use crate::kernel_ext::task::{self, current_task, Task, TaskExt};
use crate::kernel_ext::task_work::{self, When};
use crate::wait::{wait_until, Woken};
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};
use kernel::types::ARef;

/// How long the root waits for the members to stop. A member in an
/// uninterruptible sleep or stopped by SIGSTOP does not arrive; the
/// checkpoint then fails with ETIMEDOUT and every member goes on.
pub(crate) const ARRIVAL_TIMEOUT_MS: u32 = 10_000;

/// Most threads (of all processes together) checkpointed at once.
const MEMBERS_MAX: usize = 8192;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The root is waiting for the members to arrive.
    Gathering,
    /// The member dealt turn `n` dumps itself.
    Turn(usize),
    /// Over: every member returns to what it was doing.
    Released,
}

/// A thread of the tree.
struct Member {
    task: ARef<Task>,
    /// Its process's number in the dump.
    process: u32,
    arrived: bool,
    /// A thread (not its process's last) that exited before it stopped:
    /// it is not part of the dump.
    gone: bool,
    /// Its turn and what it dumps then, once turns are dealt.
    turn: Option<(usize, Part)>,
    /// Whether it forks its process for a snapshot (the leader of a
    /// process other than the root's, which the root forks).
    forks: bool,
    /// It left before it was told to fork.
    left: bool,
}

/// Forks a member's process for a snapshot, in the member's context.
pub(crate) trait ForkHook: Send + Sync {
    /// Forks process `process` of the dump, or writes what its copy would
    /// have. Returns true if the current thread is to leave the stop to
    /// make the fork (it is then let go without waiting for the release).
    fn fork_current(&self, process: u32) -> bool;
    /// The member that was to fork `process` left without (killed, or its
    /// root exited).
    fn gone(&self, process: u32);
}

struct State {
    /// Index 0 is the root.
    members: KVec<Member>,
    /// Processes so far; members' `process` numbers count up in the order
    /// they were found, parents before children.
    processes: u32,
    phase: Phase,
    /// Number of turns dealt.
    turns: usize,
    /// The dump, held by whoever's turn it is.
    job: Option<KBox<TreeDump>>,
    /// Set when the members that fork are to do so.
    fork: Option<Arc<dyn ForkHook>>,
    /// A member's process exited or was killed before the end.
    lost: bool,
}

impl State {
    /// Whether every member has stopped (or is gone).
    fn all_arrived(&self) -> bool {
        self.members.iter().all(|m| m.arrived || m.gone)
    }

    /// The process number of a member of `task`'s process, if any.
    fn process_of(&self, task: &Task) -> Option<u32> {
        let tgid = task.tgid();
        self.members
            .iter()
            .find(|m| m.task.tgid() == tgid)
            .map(|m| m.process)
    }
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

/// Whether the leader of `process`'s thread group has exited while other
/// threads of it run (the main thread called `pthread_exit()`).
fn leader_exited(process: &Task, rcu: &RcuReadGuard) -> bool {
    let (mut leader_live, mut others_live) = (false, false);
    for t in task::threads(process, rcu).filter(|t| t.is_live()) {
        if t.is_group_leader() {
            leader_live = true;
        } else {
            others_live = true;
        }
    }
    others_live && !leader_live
}

impl Freeze {
    /// A freeze whose only member so far is the current thread, its root.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let root = current_task();
        let mut members = KVec::new();
        members.push(
            Member {
                task: root,
                process: 0,
                arrived: true,
                gone: false,
                turn: None,
                forks: false,
                left: false,
            },
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            pin_init!(Freeze {
                state <- new_mutex!(State {
                    members,
                    processes: 1,
                    phase: Phase::Gathering,
                    turns: 0,
                    job: None,
                    fork: None,
                    lost: false,
                }),
                changed <- new_condvar!(),
            }),
            GFP_KERNEL,
        )
    }

    /// Stops every thread of the root's process and, if `descendants`,
    /// of every descendant process, including threads and children created
    /// while the stop is under way. On success the returned guard keeps all
    /// of them stopped until it is dropped.
    pub(crate) fn stop(self: &Arc<Self>, descendants: bool) -> StepResult<Stopped> {
        let stopped = Stopped(self.clone());
        loop {
            let new = self.new_threads(descendants)?;
            let mut st = self.state.lock();
            if new.is_empty() && st.all_arrived() {
                drop(st);
                self.deal_turns()?;
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
                let process = st.process_of(&task).unwrap_or_else(|| {
                    st.processes += 1;
                    st.processes - 1
                });
                st.members
                    .push(
                        Member {
                            task,
                            process,
                            arrived: false,
                            gone: false,
                            turn: None,
                            forks: false,
                            left: false,
                        },
                        GFP_KERNEL,
                    )
                    .map_err(|e| Failure::new(Step::Freeze, e.into()))?;
            }
            let all_arrived = |s: &State| s.lost || s.all_arrived();
            match wait_until(&self.changed, &mut st, ARRIVAL_TIMEOUT_MS, all_arrived) {
                Woken::Done if st.lost => return Err(Failure::new(Step::Freeze, EAGAIN)),
                Woken::Done => {}
                Woken::Timeout => {
                    for m in st.members.iter().filter(|m| !m.arrived && !m.gone) {
                        pr_warn!(
                            "thread {} did not stop for the checkpoint in time\n",
                            m.task.pid()
                        );
                    }
                    return Err(Failure::new(Step::Freeze, ETIMEDOUT()));
                }
                Woken::Killed => return Err(Failure::new(Step::Freeze, EINTR)),
            }
        }
    }

    /// The live threads of the tree that are not members yet: of the
    /// root's process, and of its descendants if `descendants`, parents'
    /// before children's. A process whose main thread has exited while
    /// others run is refused.
    fn new_threads(&self, descendants: bool) -> StepResult<KVec<ARef<Task>>> {
        let known: KVec<ARef<Task>> = {
            let st = self.state.lock();
            let mut v = KVec::with_capacity(st.members.len(), GFP_KERNEL)
                .map_err(Error::from)
                .at(Step::Freeze)?;
            for m in st.members.iter() {
                v.push(m.task.clone(), GFP_KERNEL)
                    .map_err(Error::from)
                    .at(Step::Freeze)?;
            }
            v
        };
        let Some(root) = known.first() else {
            return Ok(KVec::new());
        };
        // Room for a good many new ones: nothing can be allocated with
        // GFP_KERNEL under RCU.
        let mut found = KVec::with_capacity(64, GFP_KERNEL)
            .map_err(Error::from)
            .at(Step::Freeze)?;
        let rcu = RcuReadGuard::new();
        let mut add_threads_of = |p: &Task| -> StepResult<()> {
            if leader_exited(p, &rcu) {
                return Err(Failure::new(Step::Threads, EOPNOTSUPP()));
            }
            for t in task::threads(p, &rcu) {
                let is_known = known.iter().any(|k| core::ptr::eq::<Task>(&**k, t));
                if !is_known && t.is_live() {
                    found
                        .push(ARef::from(t), GFP_ATOMIC)
                        .map_err(Error::from)
                        .at(Step::Freeze)?;
                }
            }
            Ok(())
        };
        add_threads_of(root)?;
        if descendants {
            for p in task::processes(&rcu) {
                if p.descends_from(root, &rcu) && !p.process_exiting() {
                    add_threads_of(p)?;
                }
            }
        }
        Ok(found)
    }

    /// Deals the turns once every member has stopped: process by process,
    /// the leader (which dumps what its threads share) first.
    fn deal_turns(&self) -> StepResult<()> {
        let mut st = self.state.lock();
        let st = &mut *st;
        let mut next = 0;
        for process in 0..st.processes {
            let of_process = |m: &Member| m.process == process && !m.gone;
            let threads = st.members.iter().filter(|m| of_process(m)).count() as u32;
            let Some(leader) = st
                .members
                .iter()
                .position(|m| of_process(m) && m.task.is_group_leader())
            else {
                // Its leader exited while the stop was under way.
                return Err(Failure::new(Step::Threads, EOPNOTSUPP()));
            };
            st.members[leader].turn = Some((next, Part::process(process, threads)));
            st.members[leader].forks = process != 0;
            next += 1;
            for (i, m) in st.members.iter_mut().enumerate() {
                if i != leader && of_process(m) {
                    m.turn = Some((next, Part::thread(process)));
                    next += 1;
                }
            }
        }
        st.turns = next;
        Ok(())
    }

    /// Lets member `index` add itself to the job when its turn comes, and
    /// passes the turn on. Returns the guard and false if the checkpoint
    /// is over for it (released, lost, killed).
    fn take_turn<'a>(
        &'a self,
        mut st: Guard<'a, State, MutexBackend>,
        index: usize,
        done: impl Fn(&State) -> bool,
    ) -> (Guard<'a, State, MutexBackend>, bool) {
        let Some(Some((turn, part))) = st.members.get(index).map(|m| m.turn) else {
            return (st, false);
        };
        let my_turn = |s: &State| s.phase == Phase::Turn(turn) || done(s);
        if let Woken::Killed = wait_until(&self.changed, &mut st, 0, my_turn) {
            st.lost = true;
            self.changed.notify_all();
            return (st, false);
        }
        if st.phase != Phase::Turn(turn) {
            return (st, false);
        }
        let Some(mut job) = st.job.take() else {
            st.lost = true;
            self.changed.notify_all();
            return (st, false);
        };
        drop(st);
        job.add_current(part);
        let mut st = self.state.lock();
        st.job = Some(job);
        st.phase = Phase::Turn(turn + 1);
        self.changed.notify_all();
        (st, true)
    }

    /// Run by each member in its own context: stop, dump itself in its turn,
    /// wait for the release.
    fn member_stops(&self, index: usize) {
        let mut st = self.state.lock();
        let me = current_task();
        if me.exiting() {
            // Run from the exit path: this member is gone. A thread that
            // exits alone is simply not in the dump (the kernel has already
            // cleared its tid for its joiner); a whole process going away
            // changes what its parent would be dumped with.
            if me.process_exiting() || me.is_group_leader() {
                st.lost = true;
            } else if let Some(m) = st.members.get_mut(index) {
                m.gone = true;
            }
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
        // The root exiting in the middle (killed) releases everyone too.
        let over = |s: &State| {
            s.phase == Phase::Released || s.members.first().is_some_and(|root| root.task.exiting())
        };
        if let Woken::Killed = wait_until(&self.changed, &mut st, 0, |s| {
            s.phase != Phase::Gathering || over(s)
        }) {
            st.lost = true;
            self.changed.notify_all();
            return;
        }
        let (mut st, took) = self.take_turn(st, index, over);
        if !took {
            return;
        }
        let Some(&Member { forks, process, .. }) = st.members.get(index) else {
            return;
        };
        let told = |s: &State| over(s) || (forks && s.fork.is_some());
        let woken = wait_until(&self.changed, &mut st, 0, told);
        let killed = matches!(woken, Woken::Killed);
        if killed {
            st.lost = true;
            self.changed.notify_all();
        }
        if !forks || st.phase == Phase::Released {
            return;
        }
        // A member that forks its process: it does, or says it will not.
        let Some(hook) = st.fork.clone() else {
            if let Some(m) = st.members.get_mut(index) {
                m.left = true; // seen by `fork_members`
            }
            return;
        };
        let leaves = killed || over(&st);
        drop(st);
        if leaves {
            hook.gone(process);
            return;
        }
        if hook.fork_current(process) {
            return; // off to fork; the snapshot releases the others
        }
        let mut st = self.state.lock();
        if let Woken::Killed = wait_until(&self.changed, &mut st, 0, over) {
            st.lost = true;
            self.changed.notify_all();
        }
    }
}

/// A stopped tree; dropping it lets every member go on.
pub(crate) struct Stopped(Arc<Freeze>);

impl Stopped {
    /// Has the member of each process but the root's that forks it call
    /// `hook`; the tree stays stopped until `self` is dropped. False, with
    /// nothing asked, if one of them has already left.
    pub(crate) fn fork_members(&self, hook: Arc<dyn ForkHook>) -> bool {
        let mut st = self.0.state.lock();
        if st.members.iter().any(|m| m.forks && m.left) {
            return false;
        }
        st.fork = Some(hook);
        self.0.changed.notify_all();
        true
    }

    /// Number of processes, the root's included.
    pub(crate) fn processes(&self) -> u32 {
        self.0.state.lock().processes
    }

    /// Calls `check` on every stopped thread; the first error wins.
    pub(crate) fn check_members(&self, check: impl Fn(&Task) -> StepResult<()>) -> StepResult<()> {
        let st = self.0.state.lock();
        st.members
            .iter()
            .filter(|m| !m.gone)
            .try_for_each(|m| check(&m.task))
    }

    /// Hands `job` round the turns (the root's own among them) and returns
    /// it when every thread has added itself.
    pub(crate) fn turns(&self, job: KBox<TreeDump>) -> StepResult<KBox<TreeDump>> {
        let freeze = &self.0;
        let mut st = freeze.state.lock();
        let total = st.turns;
        st.job = Some(job);
        st.phase = Phase::Turn(0);
        freeze.changed.notify_all();
        let finished = move |s: &State| s.lost || s.phase == Phase::Turn(total);
        let (st, _) = freeze.take_turn(st, 0, finished);
        let mut st = st;
        let woken = wait_until(&freeze.changed, &mut st, 0, finished);
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
        st.fork = None;
        self.0.changed.notify_all();
    }
}
