// SPDX-License-Identifier: GPL-2.0

//! The threads of one process, restored together. ld-chpox creates every
//! thread with its tid and each writes its own `restore` command; thread 0
//! rebuilds the address space, which the others share. So the others wait
//! inside their `write()` (they run ld-chpox code, which is about to go)
//! until thread 0 has replaced the memory, then each installs its own
//! registers, mask and rseq area, and all return into the program once all
//! have done so.

use crate::kernel_ext::errno::ETIMEDOUT;
use crate::kernel_ext::task::{current_task, TaskExt};
use crate::wait::{wait_until, Woken};
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};

/// How long a thread waits for thread 0: ld-chpox creates the threads
/// before it waits for the rest of the tree to be ready.
const THREAD_WAIT_MS: u32 = 30_000;
/// How long thread 0 waits for the other threads, which ld-chpox saw ready
/// to enter the kernel before it came itself.
const LEADER_WAIT_MS: u32 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Threads are arriving.
    Gathering,
    /// Called off before the point of no return.
    Failed,
    /// The address space is the dump's: each thread installs its state.
    MemoryReady,
}

struct GroupState {
    stage: Stage,
    /// Threads other than thread 0 waiting for the memory.
    arrived: u32,
    /// Threads, thread 0 included, whose state is installed.
    installed: u32,
    /// Threads of the process, once thread 0 has read the dump (and come:
    /// a second thread 0 is refused).
    threads: Option<u32>,
    /// Threads inside the restore: the group is dropped with the last.
    inside: u32,
}

/// The restore of one process.
#[pin_data]
struct Group {
    tgid: i32,
    #[pin]
    state: Mutex<GroupState>,
    #[pin]
    changed: CondVar,
}

/// The processes whose threads are being restored: a slot table, a slot
/// emptied when its restore ends (the kernel's `KVec` removes nothing).
#[pin_data]
pub(crate) struct Restores {
    #[pin]
    groups: Mutex<KVec<Option<Arc<Group>>>>,
}

impl Restores {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Restores {
            groups <- new_mutex!(KVec::new()),
        })
    }

    /// Joins the restore of the current process, starting it if the
    /// current thread is the first to come.
    pub(super) fn join(&self) -> Result<Joined<'_>> {
        let tgid = current_task().tgid();
        let mut groups = self.groups.lock();
        let group = match groups.iter().flatten().find(|g| g.tgid == tgid) {
            Some(g) => g.clone(),
            None => {
                let g = Arc::pin_init(
                    pin_init!(Group {
                        tgid,
                        state <- new_mutex!(GroupState {
                            stage: Stage::Gathering,
                            arrived: 0,
                            installed: 0,
                            threads: None,
                            inside: 0,
                        }),
                        changed <- new_condvar!(),
                    }),
                    GFP_KERNEL,
                )?;
                match groups.iter_mut().find(|slot| slot.is_none()) {
                    Some(slot) => *slot = Some(g.clone()),
                    None => groups.push(Some(g.clone()), GFP_KERNEL)?,
                }
                g
            }
        };
        group.state.lock().inside += 1;
        Ok(Joined {
            restores: self,
            group,
        })
    }
}

/// The current thread's part in the restore of its process; leaving it
/// drops the group when the last thread has left.
pub(super) struct Joined<'a> {
    restores: &'a Restores,
    group: Arc<Group>,
}

/// What ended a wait, as an error.
fn failed(woken: Woken) -> Result {
    match woken {
        Woken::Done => Ok(()),
        Woken::Timeout => Err(ETIMEDOUT()),
        Woken::Killed => Err(EINTR),
    }
}

impl Joined<'_> {
    /// Calls the restore off: the threads waiting return an error.
    pub(super) fn fail(&self) {
        self.group.state.lock().stage = Stage::Failed;
        self.group.changed.notify_all();
    }

    /// Thread 0: waits for the other `threads - 1` threads to arrive.
    pub(super) fn gather(&self, threads: u32) -> Result {
        let g = &self.group;
        let mut st = g.state.lock();
        if st.threads.is_some() {
            return Err(EBUSY);
        }
        st.threads = Some(threads);
        let all = |s: &GroupState| s.stage == Stage::Failed || s.arrived + 1 >= threads;
        let result = failed(wait_until(&g.changed, &mut st, LEADER_WAIT_MS, all));
        if result.is_err() || st.stage == Stage::Failed {
            st.stage = Stage::Failed;
            g.changed.notify_all();
            return result.and(Err(EAGAIN));
        }
        Ok(())
    }

    /// Thread 0: the address space is the dump's.
    pub(super) fn memory_ready(&self) {
        self.group.state.lock().stage = Stage::MemoryReady;
        self.group.changed.notify_all();
    }

    /// Another thread: arrives and waits until thread 0 has rebuilt the
    /// memory.
    pub(super) fn arrive(&self) -> Result {
        let g = &self.group;
        let mut st = g.state.lock();
        st.arrived += 1;
        g.changed.notify_all();
        let decided = |s: &GroupState| s.stage != Stage::Gathering;
        let result = failed(wait_until(&g.changed, &mut st, THREAD_WAIT_MS, decided));
        if result.is_err() || st.stage == Stage::Failed {
            st.arrived -= 1;
            st.stage = Stage::Failed;
            g.changed.notify_all();
            return result.and(Err(EAGAIN));
        }
        Ok(())
    }

    /// Any thread: its state is installed; waits until every thread's is,
    /// so that they all go on together.
    pub(super) fn installed(&self) {
        let g = &self.group;
        let mut st = g.state.lock();
        st.installed += 1;
        g.changed.notify_all();
        let all = |s: &GroupState| s.threads.is_some_and(|n| s.installed >= n);
        // A thread that fails now kills the process, which ends the wait.
        let _ = wait_until(&g.changed, &mut st, THREAD_WAIT_MS, all);
    }
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        let last = {
            let mut st = self.group.state.lock();
            st.inside -= 1;
            st.inside == 0
        };
        if last {
            let mut groups = self.restores.groups.lock();
            let mine = |g: &Arc<Group>| core::ptr::eq::<Group>(&**g, &*self.group);
            if let Some(slot) = groups.iter_mut().find(|slot| {
                slot.as_ref()
                    .is_some_and(|g| mine(g) && g.state.lock().inside == 0)
            }) {
                *slot = None;
            }
        }
    }
}
