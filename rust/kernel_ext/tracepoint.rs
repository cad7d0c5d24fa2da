// SPDX-License-Identifier: GPL-2.0

//! Attaching a probe to a kernel tracepoint found by name.

use crate::kernel_ext::bindings;
use crate::kernel_ext::task::{self, Task};
use core::ptr::NonNull;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

/// What a probe of a tracepoint whose only argument is a task does.
pub(crate) trait TaskEvent: Send + Sync {
    /// Called for each event, in whatever context the tracepoint fires
    /// (atomic: no sleeping).
    fn on_task(&self, task: &Task);
}

/// `handler` attached to a tracepoint whose prototype is `(task)`; detached,
/// and every running call of it waited for, when dropped.
///
/// # Invariants
///
/// `probe_for::<T>` is registered on `tracepoint` with the address of
/// `*handler` as its data until `drop`.
pub(crate) struct TaskEventProbe<T: TaskEvent> {
    tracepoint: NonNull<bindings::tracepoint>,
    handler: Arc<T>,
}

// SAFETY: the tracepoint pointer is a static kernel object, only handed to
// the tracepoint API; `T: Send + Sync`.
unsafe impl<T: TaskEvent> Send for TaskEventProbe<T> {}
// SAFETY: `TaskEventProbe` has no methods taking `&self`.
unsafe impl<T: TaskEvent> Sync for TaskEventProbe<T> {}

/// The probe registered for handlers of type `T`.
///
/// # Safety
///
/// Called by the tracepoint only, with the `T` of a live
/// [`TaskEventProbe<T>`] as `data` and the task of the event.
unsafe extern "C" fn probe_for<T: TaskEvent>(data: *mut c_void, task: *mut bindings::task_struct) {
    // SAFETY: `data` is the handler the probe keeps alive while attached.
    let handler = unsafe { &*data.cast::<T>() };
    // SAFETY: the tracepoint passes a live task for the whole call.
    handler.on_task(unsafe { task::from_raw(task) });
}

struct Search<'a> {
    name: &'a CStr,
    found: Option<NonNull<bindings::tracepoint>>,
}

/// Callback of `for_each_kernel_tracepoint()`.
///
/// # Safety
///
/// Called by the kernel only, with the `Search` passed by [`find`].
unsafe extern "C" fn visit(tp: *mut bindings::tracepoint, search: *mut c_void) {
    // SAFETY: `find` passes a `Search` that outlives the iteration.
    let search = unsafe { &mut *search.cast::<Search<'_>>() };
    // SAFETY: the kernel passes live tracepoints, whose names are static
    // NUL-terminated strings.
    let name = unsafe { CStr::from_char_ptr((*tp).name) };
    if name.as_bytes() == search.name.as_bytes() {
        search.found = NonNull::new(tp);
    }
}

fn find(name: &CStr) -> Option<NonNull<bindings::tracepoint>> {
    let mut search = Search { name, found: None };
    // SAFETY: `visit` matches the callback type and `search` outlives the call.
    unsafe {
        bindings::for_each_kernel_tracepoint(Some(visit), core::ptr::from_mut(&mut search).cast())
    };
    search.found
}

impl<T: TaskEvent> TaskEventProbe<T> {
    /// Attaches `handler` to the core-kernel tracepoint `name`, whose
    /// prototype must be `(struct task_struct *)` (as `sched_process_exit`).
    pub(crate) fn attach(name: &'static CStr, handler: Arc<T>) -> Result<Self> {
        let Some(tracepoint) = find(name) else {
            pr_err!("kernel tracepoint {} not found\n", name);
            return Err(ENOENT);
        };
        let probe: unsafe extern "C" fn(*mut c_void, *mut bindings::task_struct) = probe_for::<T>;
        // SAFETY: `tracepoint` is a kernel tracepoint with a task argument,
        // which `probe_for::<T>` takes after `data`; `data` is the handler,
        // kept alive by `Self` until the probe is unregistered.
        let ret = unsafe {
            bindings::tracepoint_probe_register(
                tracepoint.as_ptr(),
                probe as *mut c_void,
                core::ptr::from_ref::<T>(&handler).cast_mut().cast(),
            )
        };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above with this handler.
        Ok(TaskEventProbe {
            tracepoint,
            handler,
        })
    }
}

impl<T: TaskEvent> Drop for TaskEventProbe<T> {
    fn drop(&mut self) {
        let probe: unsafe extern "C" fn(*mut c_void, *mut bindings::task_struct) = probe_for::<T>;
        // SAFETY: by the type invariant this exact probe is registered.
        unsafe {
            bindings::tracepoint_probe_unregister(
                self.tracepoint.as_ptr(),
                probe as *mut c_void,
                core::ptr::from_ref::<T>(&self.handler).cast_mut().cast(),
            )
        };
        // Calls that already entered the probe may still be running; the
        // handler is released (with `self`) only after they are done.
        // SAFETY: process context, no locks held.
        unsafe { bindings::chpox_tracepoint_synchronize_unregister() };
    }
}
