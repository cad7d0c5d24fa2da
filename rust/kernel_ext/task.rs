// SPDX-License-Identifier: GPL-2.0

//! A counted reference to a task.

use crate::kernel_ext::bindings;
use crate::kernel_ext::cred::Credentials;
use core::ptr::NonNull;

/// Owns one reference to a `task_struct`, dropped with `put_task_struct()`.
pub(crate) struct TaskRef(NonNull<bindings::task_struct>);

// SAFETY: task references are atomic counts; the task may be used and
// released from any thread.
unsafe impl Send for TaskRef {}
// SAFETY: the methods only read fields that are stable or read atomically.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Takes over a reference returned by the kernel (`get_pid_task()` ...).
    ///
    /// # Safety
    ///
    /// `ptr` must be null or carry a task reference that the caller hands
    /// over.
    pub(crate) unsafe fn from_owned(ptr: *mut bindings::task_struct) -> Option<Self> {
        NonNull::new(ptr).map(TaskRef)
    }

    /// A reference to the current task.
    pub(crate) fn current() -> Self {
        // SAFETY: the current task is alive; get_task_struct() takes the
        // reference handed over.
        unsafe {
            let task = bindings::get_current();
            bindings::get_task_struct(task);
            TaskRef(NonNull::new_unchecked(task))
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::task_struct {
        self.0.as_ptr()
    }

    fn flags(&self) -> u32 {
        // SAFETY: the reference keeps the task allocated; `flags` is a plain
        // word that the kernel reads without locks as well.
        unsafe { (*self.as_ptr()).flags }
    }

    /// A kernel thread, which has no user state to checkpoint.
    pub(crate) fn is_kernel_thread(&self) -> bool {
        self.flags() & bindings::PF_KTHREAD != 0
    }

    /// It has started to exit.
    pub(crate) fn exiting(&self) -> bool {
        self.flags() & bindings::PF_EXITING != 0
    }

    /// Every thread of its process has started to exit.
    pub(crate) fn process_exiting(&self) -> bool {
        // SAFETY: the reference keeps the task, and so its `signal`, alive.
        unsafe { bindings::chpox_thread_group_dead(self.as_ptr()) }
    }

    /// Whether ptrace-like access to its memory is allowed to its owner
    /// (not setuid, not marked non-dumpable).
    pub(crate) fn dumpable(&self) -> bool {
        // SAFETY: the reference keeps the task alive; the helper locks it.
        unsafe { bindings::chpox_task_dumpable(self.as_ptr()) }
    }

    /// Its objective credentials.
    pub(crate) fn credentials(&self) -> Credentials {
        // SAFETY: the task is alive; `get_task_cred()` returns a counted
        // reference that `Credentials` takes over.
        unsafe { Credentials::from_owned(bindings::get_task_cred(self.as_ptr())) }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { bindings::put_task_struct(self.as_ptr()) }
    }
}

/// Runs `f`, file I/O of the current task, as if no signal were pending
/// (unless a fatal one is). A checkpoint runs as task work, often with a
/// signal pending, and some filesystems (netfs, so 9p) fail writes with
/// `-ERESTARTSYS` then; the flags are set again afterwards, so no signal is
/// lost, and a signal sent meanwhile still interrupts `f`.
pub(crate) fn with_pending_signals_hidden<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: looks at the current task's signals.
    if unsafe { bindings::chpox_fatal_signal_pending() } {
        return f();
    }
    // SAFETY: clears flags of the current task, set again just below.
    let was = unsafe { bindings::chpox_hide_signal_flags() };
    let result = f();
    // SAFETY: sets again what was cleared above.
    unsafe { bindings::chpox_restore_signal_flags(was) };
    result
}

/// Gives the CPU away in a long loop and ends it (with `EINTR`) once the
/// current task is killed: loops whose length a process's memory or a dump
/// file decides must neither hog the CPU nor outlive a SIGKILL.
pub(crate) fn yield_unless_killed() -> kernel::error::Result {
    resched();
    // SAFETY: looks at the current task's signals.
    if unsafe { bindings::chpox_fatal_signal_pending() } {
        return Err(kernel::error::code::EINTR);
    }
    Ok(())
}

/// Gives the CPU away if another task should run.
pub(crate) fn resched() {
    // SAFETY: a plain call; the caller holds no spinlock.
    unsafe { bindings::chpox_cond_resched() };
}
