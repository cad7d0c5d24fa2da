// SPDX-License-Identifier: GPL-2.0

//! Running code in another task's context (or in ours, on the way back to
//! user space) through `task_work_add()`. A queued work holds a module
//! reference, so the module cannot be unloaded before the work has run.

use crate::kernel_ext::bindings;
use crate::kernel_ext::rcu::RcuReadGuard;
use crate::kernel_ext::task::{self, Task, TaskExt};
use kernel::prelude::*;

/// Something to run as task work.
pub(crate) trait Work: Sized + Send {
    /// Runs in the task's context, where it may sleep.
    fn run(self);
}

/// The queued node: `head` first so that the callback finds the rest.
#[repr(C)]
struct Node<W: Work> {
    head: bindings::callback_head,
    work: W,
}

fn this_module() -> *mut bindings::module {
    crate::THIS_MODULE.as_ptr()
}

/// The callback for works of type `W`.
///
/// # Safety
///
/// Called by `task_work_run()` only, with the head of a `Node<W>` queued by
/// [`queue`].
unsafe extern "C" fn trampoline<W: Work>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the first field of a `Node<W>` boxed by `queue`.
    let node = unsafe { KBox::from_raw(head.cast::<Node<W>>()) };
    KBox::into_inner(node).work.run();
    // SAFETY: the reference taken by `queue`.
    unsafe { bindings::module_put(this_module()) };
}

/// How soon the work runs.
#[derive(Clone, Copy)]
pub(crate) enum When {
    /// At the task's next signal check, waking an interruptible sleep
    /// (`TWA_SIGNAL`).
    Signal,
    /// On the task's next return to user space (`TWA_RESUME`).
    Resume,
}

/// Queues `work` on `task`. Returns false, dropping the work, if it cannot
/// be queued (the task is exiting, no memory, the module is going away).
///
/// `flags` must suit the caller's context.
pub(crate) fn queue<W: Work>(
    task: &Task,
    work: W,
    when: When,
    flags: kernel::alloc::Flags,
) -> bool {
    // SAFETY: `this_module()` is our own module.
    if !unsafe { bindings::chpox_try_module_get(this_module()) } {
        return false;
    }
    let node = Node {
        head: bindings::callback_head::default(),
        work,
    };
    let Ok(mut node) = KBox::new(node, flags) else {
        // SAFETY: taken above.
        unsafe { bindings::module_put(this_module()) };
        return false;
    };
    node.head.func = Some(trampoline::<W>);
    let node = KBox::into_raw(node);
    let mode = match when {
        When::Signal => bindings::task_work_notify_mode_TWA_SIGNAL,
        When::Resume => bindings::task_work_notify_mode_TWA_RESUME,
    };
    // SAFETY: the borrow keeps `task` alive; `node` stays allocated until
    // the trampoline frees it.
    let ret = unsafe { bindings::task_work_add(task::raw(task), &mut (*node).head, mode) };
    if ret != 0 {
        // SAFETY: not queued, so still ours; the reference was taken above.
        unsafe {
            drop(KBox::from_raw(node));
            bindings::module_put(this_module());
        }
        return false;
    }
    true
}

/// Queues a work made by `make` on `thread`, or, if it has exited, on
/// another live thread of its process (`kill` picks the main thread,
/// which may have ended while others run). Returns false if no thread
/// took one.
pub(crate) fn queue_on_process<W: Work>(
    thread: &Task,
    make: impl Fn() -> W,
    when: When,
    flags: kernel::alloc::Flags,
) -> bool {
    if queue(thread, make(), when, flags) {
        return true;
    }
    let rcu = RcuReadGuard::new();
    let mut threads = task::threads(thread, &rcu);
    threads.any(|t| t.is_live() && queue(t, make(), when, flags))
}
