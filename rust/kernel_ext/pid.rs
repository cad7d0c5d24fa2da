// SPDX-License-Identifier: GPL-2.0

//! A counted reference to a `struct pid`.
//!
//! Registrations hold the `struct pid` of their process rather than its
//! number: a number can be reused by a stranger once the process is gone,
//! the `struct pid` cannot.

use crate::kernel_ext::bindings;
use crate::kernel_ext::task::TaskRef;
use core::ptr::NonNull;

/// Owns one reference to a `struct pid`, dropped with `put_pid()`.
pub(crate) struct PidRef(NonNull<bindings::pid>);

// SAFETY: `struct pid` is reference counted atomically and immutable but for
// RCU-protected task lists, which `pid_task()` and friends handle.
unsafe impl Send for PidRef {}
// SAFETY: see `Send`.
unsafe impl Sync for PidRef {}

impl PidRef {
    /// The pid numbered `nr` in the caller's pid namespace.
    pub(crate) fn find(nr: i32) -> Option<Self> {
        // SAFETY: `find_get_pid()` takes the RCU read lock itself and returns
        // a counted reference or null.
        NonNull::new(unsafe { bindings::find_get_pid(nr) }).map(PidRef)
    }

    /// The process this pid leads, if it is a live process id (not a thread
    /// id, not gone).
    pub(crate) fn process(&self) -> Option<TaskRef> {
        // SAFETY: `self` keeps the pid alive; `get_pid_task()` returns a
        // counted task reference or null.
        unsafe {
            TaskRef::from_owned(bindings::get_pid_task(
                self.0.as_ptr(),
                bindings::pid_type_PIDTYPE_TGID,
            ))
        }
    }

    /// Its number as the current task sees it, 0 if it is outside the
    /// current task's pid namespace.
    pub(crate) fn nr_for_current(&self) -> i32 {
        // SAFETY: `self` keeps the pid alive.
        unsafe { bindings::pid_vnr(self.0.as_ptr()) }
    }

    /// Whether this is the process id of `task`.
    pub(crate) fn is_process_of(&self, task: *mut bindings::task_struct) -> bool {
        // SAFETY: callers pass a live task (the current one, or one they hold).
        core::ptr::eq(unsafe { bindings::chpox_task_tgid(task) }, self.0.as_ptr())
    }

    /// Whether two references name the same pid.
    pub(crate) fn same(&self, other: &PidRef) -> bool {
        self.0 == other.0
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { bindings::put_pid(self.0.as_ptr()) }
    }
}
