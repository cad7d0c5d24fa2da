// SPDX-License-Identifier: GPL-2.0

//! Tasks: what chpox asks of a `task_struct` beyond 6.12's
//! [`kernel::task::Task`], and the state of the current task it changes.
//!
//! Tasks are held as `ARef<Task>` (a counted reference) or borrowed as
//! `&Task`; the raw pointer never leaves this layer.

use crate::kernel_ext::bindings;
use crate::kernel_ext::cred::Credential;
use crate::kernel_ext::rcu::RcuReadGuard;
use kernel::error::{code::EINTR, Result};
pub(crate) use kernel::task::Task;
use kernel::types::ARef;

/// The `task_struct` behind `task`, for calls into the kernel.
pub(super) fn raw(task: &Task) -> *mut bindings::task_struct {
    // `Task` is a transparent wrapper of `Opaque<task_struct>`.
    core::ptr::from_ref(task).cast_mut().cast()
}

/// Borrows the task at `ptr`.
///
/// # Safety
///
/// `ptr` must point to a task that stays alive for `'a`.
pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::task_struct) -> &'a Task {
    // SAFETY: `Task` is a transparent wrapper of `Opaque<task_struct>`; the
    // caller keeps the task alive for `'a`.
    unsafe { &*ptr.cast::<Task>() }
}

/// A counted reference to the current task.
pub(crate) fn current_task() -> ARef<Task> {
    let current = kernel::current!();
    ARef::from(current)
}

/// What chpox reads from a task.
pub(crate) trait TaskExt {
    /// Its process id in the initial pid namespace (its `tgid`).
    fn tgid(&self) -> i32;
    /// A kernel thread, which has no user state to checkpoint.
    fn is_kernel_thread(&self) -> bool;
    /// It has started to exit.
    fn exiting(&self) -> bool;
    /// Every thread of its process has started to exit.
    fn process_exiting(&self) -> bool;
    /// Number of threads of its process.
    fn thread_count(&self) -> u32;
    /// Whether ptrace-like access to its memory is allowed to its owner
    /// (not set-id, not marked non-dumpable).
    fn dumpable(&self) -> bool;
    /// Its objective credentials.
    fn credential(&self) -> ARef<Credential>;
    /// Whether `root`'s process is one of its ancestors (by `real_parent`,
    /// which is the thread that forked it: any thread of the process).
    fn descends_from(&self, root: &Task, rcu: &RcuReadGuard) -> bool;
    /// Whether it is the leader of its thread group (its tid is the pid).
    fn is_group_leader(&self) -> bool;
    /// Whether `thread` forked it (is its `real_parent`).
    fn forked_by(&self, thread: &Task) -> bool;
    /// Its exec count (`self_exec_id`): a child starts with its parent's,
    /// and every `execve()` changes it.
    fn exec_id(&self) -> u64;
    /// Whether it exited and waits for its parent's `wait()`, with no
    /// thread left: what `wait()` would reap.
    fn is_reapable_zombie(&self) -> bool;
    /// Whether it is alive: not exited, not exiting.
    fn is_live(&self) -> bool;
}

impl TaskExt for Task {
    fn tgid(&self) -> i32 {
        // SAFETY: `tgid` never changes after the task is created.
        unsafe { (*raw(self)).tgid }
    }

    fn is_kernel_thread(&self) -> bool {
        flags(self) & bindings::PF_KTHREAD != 0
    }

    fn exiting(&self) -> bool {
        flags(self) & bindings::PF_EXITING != 0
    }

    fn process_exiting(&self) -> bool {
        // SAFETY: the task, and so its `signal`, is alive.
        unsafe { bindings::chpox_thread_group_dead(raw(self)) }
    }

    fn thread_count(&self) -> u32 {
        // SAFETY: the task, and so its `signal`, is alive; the count is one
        // word, read without the lock as /proc does.
        unsafe { core::ptr::read_volatile(&raw const (*(*raw(self)).signal).nr_threads) as u32 }
    }

    fn dumpable(&self) -> bool {
        // SAFETY: the task is alive; `task_lock()` keeps its mm while read.
        unsafe {
            bindings::chpox_task_lock(raw(self));
            let mm = (*raw(self)).mm;
            let dumpable = !mm.is_null()
                && bindings::chpox_get_dumpable(mm) == bindings::SUID_DUMP_USER as i32;
            bindings::chpox_task_unlock(raw(self));
            dumpable
        }
    }

    fn credential(&self) -> ARef<Credential> {
        // SAFETY: the task is alive; `get_task_cred()` returns a counted
        // reference, which the `ARef` takes over.
        unsafe { Credential::from_owned(bindings::get_task_cred(raw(self))) }
    }

    fn descends_from(&self, root: &Task, _rcu: &RcuReadGuard) -> bool {
        let root = root.tgid();
        let mut task = raw(self);
        loop {
            // SAFETY: RCU (held by the caller) keeps every task on the
            // parent chain alive.
            let parent = unsafe { bindings::chpox_real_parent(task) };
            if parent == task || parent.is_null() {
                return false; // the chain ends at the idle task, its own parent
            }
            // SAFETY: as above.
            if unsafe { from_raw(parent) }.tgid() == root {
                return true;
            }
            task = parent;
        }
    }

    fn forked_by(&self, thread: &Task) -> bool {
        let _rcu = RcuReadGuard::new();
        // SAFETY: RCU keeps the parent valid while it is compared.
        core::ptr::eq(
            unsafe { bindings::chpox_real_parent(raw(self)) },
            raw(thread),
        )
    }

    fn exec_id(&self) -> u64 {
        // SAFETY: the task is alive; a u64 read (the task changes it only
        // in its own `execve()`).
        unsafe { core::ptr::read_volatile(&raw const (*raw(self)).self_exec_id) }
    }

    fn is_group_leader(&self) -> bool {
        self.pid() == self.tgid()
    }

    fn is_reapable_zombie(&self) -> bool {
        // SAFETY: the task is alive; `exit_state` is read once, as
        // READ_ONCE() in the kernel's own walks.
        let state = unsafe { core::ptr::read_volatile(&raw const (*raw(self)).exit_state) };
        // SAFETY: the task is alive.
        state == bindings::EXIT_ZOMBIE as i32
            && unsafe { bindings::chpox_thread_group_empty(raw(self)) }
    }

    fn is_live(&self) -> bool {
        // SAFETY: the task is alive; one word, read once.
        let state = unsafe { core::ptr::read_volatile(&raw const (*raw(self)).exit_state) };
        state == 0 && !self.exiting()
    }
}

fn flags(task: &Task) -> u32 {
    // SAFETY: `flags` is a plain word the kernel reads without locks too.
    unsafe { core::ptr::read_volatile(&raw const (*raw(task)).flags) }
}

/// The processes of the system (thread group leaders) but the idle task,
/// in task-list order, valid while `rcu` is held.
pub(crate) fn processes(rcu: &RcuReadGuard) -> impl Iterator<Item = &Task> {
    let _ = rcu;
    let init = &raw mut bindings::init_task;
    // SAFETY: `init_task` is static; the list is walked under RCU.
    let mut next = unsafe { bindings::chpox_next_task(init) };
    core::iter::from_fn(move || {
        if next == init {
            return None; // the list is a circle through the idle task
        }
        let task = next;
        // SAFETY: a task on the task list, kept alive by RCU while `rcu` is
        // borrowed (the iterator borrows it).
        next = unsafe { bindings::chpox_next_task(task) };
        // SAFETY: as above.
        Some(unsafe { from_raw(task) })
    })
}

/// The threads of `process`'s thread group, exiting ones included, valid
/// while `rcu` is held.
pub(crate) fn threads<'a>(
    process: &'a Task,
    rcu: &'a RcuReadGuard,
) -> impl Iterator<Item = &'a Task> {
    let _ = rcu;
    // SAFETY: the task is alive (borrowed), and so its `signal`; the list is
    // walked under RCU.
    let mut next = unsafe { bindings::chpox_first_thread(raw(process)) };
    core::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        let task = next;
        // SAFETY: a thread on its group's list, kept alive by RCU while
        // `rcu` is borrowed (the iterator borrows it).
        next = unsafe { bindings::chpox_next_thread(task) };
        // SAFETY: as above.
        Some(unsafe { from_raw(task) })
    })
}

/// What the current thread registered for its own exit: the word the
/// kernel clears and wakes at (`set_tid_address()`), and the head of its
/// robust futex list (`set_robust_list()`), as user addresses (0: none).
pub(crate) fn current_exit_words() -> (u64, u64) {
    let me = raw(kernel::current!());
    // SAFETY: the current task's own fields, which only it changes.
    unsafe { ((*me).clear_child_tid as u64, (*me).robust_list as u64) }
}

/// An exited child of the current process that waits for its `wait()`.
pub(crate) struct Zombie {
    /// Its pid in the current task's pid namespace.
    pub(crate) pid: i32,
    /// The status `wait()` would report.
    pub(crate) status: i32,
}

/// The current process's children that `wait()` would reap now; calls `f`
/// on each under RCU (`f` must not sleep).
pub(crate) fn for_each_zombie_child(mut f: impl FnMut(Zombie)) {
    let rcu = RcuReadGuard::new();
    let me = kernel::current!();
    for p in processes(&rcu) {
        // SAFETY: RCU keeps `p` and its parent valid.
        let parent = unsafe { from_raw(bindings::chpox_real_parent(raw(p))) };
        // Any thread of the process may have forked it.
        if parent.tgid() != me.tgid() || !p.is_reapable_zombie() {
            continue;
        }
        // SAFETY: a zombie keeps its signal_struct until it is reaped, which
        // cannot happen under RCU while we look.
        let status = unsafe {
            let signal = (*raw(p)).signal;
            // As wait_task_zombie() chooses it.
            if (*signal).flags & bindings::SIGNAL_GROUP_EXIT != 0 {
                (*signal).group_exit_code
            } else {
                (*raw(p)).exit_code
            }
        };
        f(Zombie {
            pid: pid_in_own_namespace(p, bindings::pid_type_PIDTYPE_PID),
            status,
        });
    }
}

/// `task`'s id of kind `kind` as the current task's pid namespace numbers it.
fn pid_in_own_namespace(task: &Task, kind: bindings::pid_type) -> i32 {
    // SAFETY: the task is alive; a null namespace means the caller's.
    unsafe { bindings::__task_pid_nr_ns(raw(task), kind, core::ptr::null_mut()) }
}

/// The current process's ids as its own pid namespace sees them.
pub(crate) struct ProcessIds {
    pub(crate) pid: i32,
    /// The current thread's own id.
    pub(crate) tid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) sid: i32,
}

/// See [`ProcessIds`].
pub(crate) fn current_ids() -> ProcessIds {
    let me = kernel::current!();
    let ppid = {
        let _rcu = RcuReadGuard::new();
        // SAFETY: RCU keeps the parent alive; the current task is alive, so
        // its parent pointer is valid; the namespace is current's own.
        unsafe {
            let parent = bindings::chpox_real_parent(raw(me));
            let ns = bindings::task_active_pid_ns(raw(me));
            bindings::__task_pid_nr_ns(parent, bindings::pid_type_PIDTYPE_TGID, ns)
        }
    };
    ProcessIds {
        pid: pid_in_own_namespace(me, bindings::pid_type_PIDTYPE_TGID),
        tid: pid_in_own_namespace(me, bindings::pid_type_PIDTYPE_PID),
        ppid,
        pgid: pid_in_own_namespace(me, bindings::pid_type_PIDTYPE_PGID),
        sid: pid_in_own_namespace(me, bindings::pid_type_PIDTYPE_SID),
    }
}

/// The current task's command name (`comm`), NUL-padded.
pub(crate) fn current_comm() -> [u8; 16] {
    let me = kernel::current!();
    let mut out = [0u8; 16];
    // SAFETY: `comm` is a fixed array of the live current task; only the
    // task itself (us) changes it.
    let comm = unsafe { &(*raw(me)).comm };
    for (o, &c) in out.iter_mut().zip(comm.iter()) {
        *o = c;
    }
    out
}

/// The current task's umask.
pub(crate) fn current_umask() -> u32 {
    // SAFETY: a plain read of the current task's fs_struct.
    unsafe { bindings::current_umask() as u32 }
}

/// Lifts the current process's RLIMIT_FSIZE while the dump is written (it
/// limits the application's files, not chpox's); restored when dropped.
pub(crate) struct FileSizeLimitLifted {
    saved: u64,
}

fn fsize_limit() -> *mut bindings::rlimit {
    let me = kernel::current!();
    // SAFETY: current's signal_struct lives as long as it; `rlim` has
    // RLIM_NLIMITS entries.
    unsafe { &raw mut (*(*raw(me)).signal).rlim[bindings::RLIMIT_FSIZE as usize] }
}

impl FileSizeLimitLifted {
    /// Lifts the limit. Only while every thread of the process is stopped
    /// in chpox (which is when a checkpoint calls it), so nobody else
    /// changes it meanwhile (prlimit from outside aside).
    pub(crate) fn new() -> Self {
        let limit = fsize_limit();
        // SAFETY: see `fsize_limit`; the process is stopped.
        unsafe {
            let saved = (*limit).rlim_cur as u64;
            (*limit).rlim_cur = (*limit).rlim_max;
            FileSizeLimitLifted { saved }
        }
    }
}

impl Drop for FileSizeLimitLifted {
    fn drop(&mut self) {
        // SAFETY: see `new`.
        unsafe { (*fsize_limit()).rlim_cur = self.saved as _ };
    }
}

/// The current process's soft `RLIMIT_DATA`, as `check_data_rlimit()`
/// reads it.
pub(crate) fn current_data_rlimit() -> u64 {
    let me = kernel::current!();
    // SAFETY: current's signal_struct lives as long as it; the limit is a
    // plain word that prlimit() changes atomically.
    unsafe { (*(*raw(me)).signal).rlim[bindings::RLIMIT_DATA as usize].rlim_cur as u64 }
}

/// Whether a fatal signal (SIGKILL) is pending for the current task.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: looks at the current task's signals.
    unsafe { bindings::chpox_fatal_signal_pending() }
}

/// Runs `f`, file I/O of the current task, as if no signal were pending
/// (unless a fatal one is). A checkpoint runs as task work, often with a
/// signal pending, and some filesystems (netfs, so 9p) fail writes with
/// `-ERESTARTSYS` then; the flags are set again afterwards, so no signal is
/// lost, and a signal sent meanwhile still interrupts `f`.
pub(crate) fn with_pending_signals_hidden<T>(f: impl FnOnce() -> T) -> T {
    if fatal_signal_pending() {
        return f();
    }
    const FLAGS: [u32; 2] = [bindings::TIF_SIGPENDING, bindings::TIF_NOTIFY_SIGNAL];
    // SAFETY: clears flags of the current task, set again just below.
    let was = FLAGS.map(|flag| unsafe { bindings::chpox_test_and_clear_thread_flag(flag as i32) });
    let result = f();
    for (flag, was_set) in FLAGS.into_iter().zip(was) {
        if was_set {
            // SAFETY: sets again what was cleared above.
            unsafe { bindings::chpox_set_thread_flag(flag as i32) };
        }
    }
    result
}

/// Gives the CPU away in a long loop and ends it (with `EINTR`) once the
/// current task is killed: loops whose length a process's memory or a dump
/// file decides must neither hog the CPU nor outlive a SIGKILL.
pub(crate) fn yield_unless_killed() -> Result {
    resched();
    if fatal_signal_pending() {
        return Err(EINTR);
    }
    Ok(())
}

/// Gives the CPU away if another task should run.
pub(crate) fn resched() {
    // SAFETY: a plain call; the caller holds no spinlock.
    unsafe { bindings::chpox_cond_resched() };
}

/// Sends SIGKILL to the current task.
pub(crate) fn kill_current() {
    let me = kernel::current!();
    // SAFETY: a signal to the live current task.
    unsafe { bindings::send_sig(bindings::SIGKILL as i32, raw(me), 1) };
}

/// SIGKILL and SIGSTOP in a signal mask.
const UNBLOCKABLE: u64 = 1 << (bindings::SIGKILL - 1) | 1 << (bindings::SIGSTOP - 1);

/// Sets the current task's blocked signals (the first 64) as
/// `rt_sigprocmask(SIG_SETMASK)` does: SIGKILL and SIGSTOP cannot be
/// blocked.
pub(crate) fn set_current_blocked(mask: u64) -> Result {
    let mut set = bindings::sigset_t {
        sig: [(mask & !UNBLOCKABLE) as _],
    };
    // SAFETY: sets the current task's mask; `set` is a valid set.
    kernel::error::to_result(unsafe {
        bindings::sigprocmask(
            bindings::SIG_SETMASK as i32,
            &mut set,
            core::ptr::null_mut(),
        )
    })
}

/// Closes descriptor `fd` of the current task, whatever it holds.
pub(crate) fn close_current_fd(fd: u32) {
    // SAFETY: closes a descriptor of the current task's own table.
    unsafe { bindings::close_fd(fd) };
}

/// Sleeps `ms` milliseconds (uninterruptibly).
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: a plain sleep; the caller holds no spinlock.
    unsafe { bindings::msleep(ms) };
}
