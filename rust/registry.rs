// SPDX-License-Identifier: GPL-2.0

//! The table of registrations.

use crate::abi::registration::Last;
use crate::kernel_ext::cred::Credential;
use crate::kernel_ext::errno::EDQUOT;
use crate::kernel_ext::irq_lock::IrqSpinLock;
use crate::kernel_ext::pid::Pid;
use crate::kernel_ext::task::{Task, TaskExt};
use crate::permission::Manager;
use crate::writer::DumpDir;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;
use kernel::types::ARef;

/// At most this many registrations at once: unprivileged users can register
/// their own processes, and kernel memory for that must stay bounded.
pub(crate) const MAX_REGISTRATIONS: usize = 1024;
/// At most this many of them by one unprivileged user, so that no user can
/// take the whole table from the others.
pub(crate) const MAX_REGISTRATIONS_PER_USER: usize = 64;

/// One process registered for checkpointing.
pub(crate) struct Registration {
    /// Its process id; the reference keeps the number from meaning another
    /// process while the registration exists.
    pub(crate) pid: ARef<Pid>,
    /// The trigger signal.
    pub(crate) signal: u32,
    /// `FLAG_PROCESS`, `FLAG_DESCENDANTS`.
    pub(crate) flags: u32,
    /// Absolute path of the dump file.
    pub(crate) file: KVec<u8>,
    /// Who registered it: dumps are written with these credentials.
    pub(crate) registrant: ARef<Credential>,
    /// The registrant had CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
    pub(crate) privileged: bool,
    /// The directory of `file`, as the registrant named it.
    pub(crate) dir: DumpDir,
    /// What its checkpoints have done.
    pub(crate) status: Status,
}

/// The checkpoint history of a registration.
#[derive(Clone, Copy)]
pub(crate) struct Status {
    /// A checkpoint is queued or running.
    pub(crate) pending: bool,
    /// Successful checkpoints so far.
    pub(crate) checkpoints: u64,
    /// The last attempt.
    pub(crate) last: Last<'static>,
}

impl Status {
    pub(crate) const NEW: Status = Status {
        pending: false,
        checkpoints: 0,
        last: Last::Never,
    };
}

/// What a checkpoint takes from its registration.
pub(crate) struct Request {
    /// `FLAG_PROCESS`, `FLAG_DESCENDANTS`.
    pub(crate) flags: u32,
    /// Who registered it.
    pub(crate) registrant: ARef<Credential>,
    /// The registrant had CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
    pub(crate) privileged: bool,
    /// Where the dump goes.
    pub(crate) dir: DumpDir,
}

/// Whether a signal triggers a checkpoint, as [`Registry::claim`] decides.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Not a registered process, or not its signal: deliver it.
    No,
    /// Its trigger, and a checkpoint is already on its way: swallow it.
    Pending,
    /// Its trigger: queue a checkpoint and swallow it.
    Start,
}

/// All registrations. A slot table: removal just empties a slot, so nothing
/// is allocated or moved while the lock is held but when the table grows.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    table: IrqSpinLock<KVec<Option<KBox<Registration>>>>,
    /// Number of filled slots, read without the lock by the exit path so that
    /// process exits cost nothing while chpox is idle.
    count: AtomicUsize,
}

impl Registry {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            table <- IrqSpinLock::new(
                KVec::new(),
                kernel::c_str!("chpox_registry"),
                kernel::static_lock_class!()
            ),
            count: AtomicUsize::new(0),
        })
    }

    /// Adds `reg`, the registration of `process`.
    pub(crate) fn add(&self, reg: KBox<Registration>, process: &Task) -> Result {
        let mut table = self.table.lock();
        if table.iter().flatten().any(|r| r.pid.same(&reg.pid)) {
            return Err(EEXIST);
        }
        let free = table.iter().position(Option::is_none);
        if free.is_none() && table.len() >= MAX_REGISTRATIONS {
            return Err(ENOSPC);
        }
        let euid = reg.registrant.euid();
        let own = table
            .iter()
            .flatten()
            .filter(|r| r.registrant.euid() == euid)
            .count();
        if !reg.privileged && own >= MAX_REGISTRATIONS_PER_USER {
            return Err(EDQUOT());
        }
        // Count first, then look at the process: an exit that the exit hook
        // skipped because it saw no registrations is then visible here
        // (both sides are fully ordered atomics), and one that comes later
        // finds the entry once we unlock.
        self.count.fetch_add(1, Ordering::SeqCst);
        if process.process_exiting() {
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Err(ESRCH);
        }
        match free {
            Some(i) => table[i] = Some(reg),
            None => {
                if let Err(e) = table.push(Some(reg), GFP_ATOMIC) {
                    self.count.fetch_sub(1, Ordering::Relaxed);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Removes the registration of the process numbered `nr` (in the
    /// caller's pid namespace) if `who` may manage it.
    pub(crate) fn remove(&self, nr: i32, who: &Manager) -> Result {
        let mut table = self.table.lock();
        let slot = table
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|r| r.pid.nr_for_current() == nr))
            .ok_or(ENOENT)?;
        if !slot.as_ref().is_some_and(|r| who.may_manage(&r.registrant)) {
            return Err(EPERM);
        }
        *slot = None;
        self.count.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes every registration `who` may manage.
    pub(crate) fn clear(&self, who: &Manager) {
        let mut table = self.table.lock();
        for slot in table.iter_mut() {
            if slot.as_ref().is_some_and(|r| who.may_manage(&r.registrant)) {
                *slot = None;
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Drops the registration of `task`'s process if the whole process is
    /// exiting. Called for every exiting task in the system, in atomic
    /// context.
    pub(crate) fn forget_exiting(&self, task: &Task) {
        if self.count.load(Ordering::Relaxed) == 0 || !task.process_exiting() {
            return;
        }
        let mut table = self.table.lock();
        if let Some(slot) = table
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|r| r.pid.is_process_of(task)))
        {
            *slot = None;
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Decides whether `signal`, on its way to `task`, triggers a checkpoint
    /// of `task`'s process, and marks it pending if so. Atomic context.
    pub(crate) fn claim(&self, task: &Task, signal: u32) -> Claim {
        if self.count.load(Ordering::Relaxed) == 0 {
            return Claim::No;
        }
        let mut table = self.table.lock();
        match table
            .iter_mut()
            .flatten()
            .find(|r| r.signal == signal && r.pid.is_process_of(task))
        {
            None => Claim::No,
            Some(r) if r.status.pending => Claim::Pending,
            Some(r) => {
                r.status.pending = true;
                Claim::Start
            }
        }
    }

    /// What the checkpoint of `task`'s process needs, with the dump path
    /// copied into `path` (whose capacity must be `PATH_MAX`, so that nothing
    /// is allocated under the lock). `None` if the registration went away
    /// meanwhile.
    pub(crate) fn request(&self, task: &Task, path: &mut KVec<u8>) -> Option<Request> {
        let table = self.table.lock();
        let r = table.iter().flatten().find(|r| r.pid.is_process_of(task))?;
        path.extend_from_slice(&r.file, GFP_ATOMIC).ok()?;
        Some(Request {
            flags: r.flags,
            registrant: r.registrant.clone(),
            privileged: r.privileged,
            dir: r.dir.clone(),
        })
    }

    /// Records the outcome of the checkpoint of `task`'s process (`None` if
    /// it was not attempted) and clears its pending mark.
    pub(crate) fn finish(&self, task: &Task, outcome: Option<Last<'static>>) {
        let mut table = self.table.lock();
        if let Some(r) = table
            .iter_mut()
            .flatten()
            .find(|r| r.pid.is_process_of(task))
        {
            r.status.pending = false;
            if let Some(last) = outcome {
                if matches!(last, Last::Ok { .. }) {
                    r.status.checkpoints += 1;
                }
                r.status.last = last;
            }
        }
    }

    /// Calls `f` on each registration, under the lock: `f` must not sleep.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Registration)) {
        let table = self.table.lock();
        table.iter().flatten().for_each(|r| f(r));
    }
}
