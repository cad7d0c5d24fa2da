// SPDX-License-Identifier: GPL-2.0

//! Process ids (`struct pid`).
//!
//! Registrations hold the `struct pid` of their process rather than its
//! number: a number can be reused by a stranger once the process is gone,
//! the `struct pid` cannot.

use crate::kernel_ext::bindings;
use crate::kernel_ext::task::{self, Task};
use core::ptr::NonNull;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// A process or thread id.
///
/// # Invariants
///
/// Only reached through `ARef<Pid>` or a borrow of one: the `struct pid` is
/// alive.
#[repr(transparent)]
pub(crate) struct Pid(Opaque<bindings::pid>);

// SAFETY: `struct pid` is reference counted atomically and immutable but for
// RCU-protected task lists, which `pid_task()` and friends handle.
unsafe impl Send for Pid {}
// SAFETY: see `Send`.
unsafe impl Sync for Pid {}

// SAFETY: `get_pid()`/`put_pid()` count the references that keep the pid
// alive, as the type invariant needs.
unsafe impl AlwaysRefCounted for Pid {
    fn inc_ref(&self) {
        // SAFETY: a shared reference means the count is non-zero.
        unsafe { bindings::chpox_get_pid(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one counted reference.
        unsafe { bindings::put_pid(obj.cast().as_ptr()) };
    }
}

impl Pid {
    /// The pid numbered `nr` in the caller's pid namespace.
    pub(crate) fn find(nr: i32) -> Option<ARef<Self>> {
        // SAFETY: `find_get_pid()` takes the RCU read lock itself and returns
        // a counted reference or null.
        let pid = NonNull::new(unsafe { bindings::find_get_pid(nr) })?;
        // INVARIANT: the reference returned is handed over to the `ARef`.
        // SAFETY: as above.
        Some(unsafe { ARef::from_raw(pid.cast()) })
    }

    /// The process this pid leads, if it is a live process id (not a thread
    /// id, not gone).
    pub(crate) fn process(&self) -> Option<ARef<Task>> {
        // SAFETY: `self` keeps the pid alive; `get_pid_task()` returns a
        // counted task reference or null.
        let task = NonNull::new(unsafe {
            bindings::get_pid_task(self.0.get(), bindings::pid_type_PIDTYPE_TGID)
        })?;
        // SAFETY: the reference returned is handed over to the `ARef`.
        Some(unsafe { ARef::from_raw(task.cast()) })
    }

    /// Its number as the current task sees it, 0 if it is outside the
    /// current task's pid namespace.
    pub(crate) fn nr_for_current(&self) -> i32 {
        // SAFETY: `self` keeps the pid alive.
        unsafe { bindings::pid_vnr(self.0.get()) }
    }

    /// Whether this is the process id of `task`.
    pub(crate) fn is_process_of(&self, task: &Task) -> bool {
        // SAFETY: the borrow keeps the task alive.
        core::ptr::eq(
            unsafe { bindings::chpox_task_tgid(task::raw(task)) },
            self.0.get(),
        )
    }

    /// Whether two references name the same pid.
    pub(crate) fn same(&self, other: &Pid) -> bool {
        core::ptr::eq(self, other)
    }
}
