// SPDX-License-Identifier: GPL-2.0

//! Drops a registration as its process exits, so that a pid number, once
//! free, can never lead chpox to a stranger.

use crate::kernel_ext::bindings;
use crate::registry::Registry;
use crate::kernel_ext::tracepoint::TracepointProbe;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Watches `sched_process_exit` for registered processes.
pub(crate) struct ExitWatch {
    // Detached before the registry reference below is released.
    _probe: TracepointProbe,
    _registry: Arc<Registry>,
}

/// Probe of `sched_process_exit`.
///
/// # Safety
///
/// Called by the tracepoint only, with the registry as `data` and the
/// exiting task.
unsafe extern "C" fn on_exit(data: *mut c_void, task: *mut bindings::task_struct) {
    // SAFETY: `data` is the registry `ExitWatch` keeps alive while attached.
    let registry = unsafe { &*data.cast::<Registry>() };
    registry.forget_exiting(task);
}

impl ExitWatch {
    pub(crate) fn start(registry: Arc<Registry>) -> Result<Self> {
        let probe: unsafe extern "C" fn(*mut c_void, *mut bindings::task_struct) = on_exit;
        let data = core::ptr::from_ref::<Registry>(&registry).cast_mut().cast();
        // SAFETY: `on_exit` has the prototype of `sched_process_exit` probes
        // (data, task) and does not sleep; `data` points into the `Arc` kept
        // in `Self`, which outlives the probe.
        let probe = unsafe {
            TracepointProbe::attach(
                kernel::c_str!("sched_process_exit"),
                probe as *mut c_void,
                data,
            )?
        };
        Ok(ExitWatch {
            _probe: probe,
            _registry: registry,
        })
    }
}
