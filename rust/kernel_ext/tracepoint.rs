// SPDX-License-Identifier: GPL-2.0

//! Attaching a probe to a kernel tracepoint found by name.

use crate::kernel_ext::bindings;
use core::ptr::NonNull;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::str::CStr;

/// A probe attached to a tracepoint; detached, and every running call of it
/// waited for, when dropped.
pub(crate) struct TracepointProbe {
    tracepoint: NonNull<bindings::tracepoint>,
    probe: *mut c_void,
    data: *mut c_void,
}

// SAFETY: the fields are addresses handed to the tracepoint API, which may be
// used from any thread.
unsafe impl Send for TracepointProbe {}
// SAFETY: `TracepointProbe` has no methods taking `&self`.
unsafe impl Sync for TracepointProbe {}

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

impl TracepointProbe {
    /// Attaches `probe` to the core-kernel tracepoint `name`.
    ///
    /// # Safety
    ///
    /// `probe` must be an `extern "C"` function taking `data` followed by the
    /// tracepoint's arguments, safe to run in atomic context, and `data` must
    /// stay valid until the returned value is dropped.
    pub(crate) unsafe fn attach(
        name: &CStr,
        probe: *mut c_void,
        data: *mut c_void,
    ) -> Result<Self> {
        let Some(tracepoint) = find(name) else {
            pr_err!("kernel tracepoint {} not found\n", name);
            return Err(ENOENT);
        };
        // SAFETY: `tracepoint` is a kernel tracepoint; the caller vouches for
        // `probe` and `data`.
        let ret = unsafe { bindings::tracepoint_probe_register(tracepoint.as_ptr(), probe, data) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(TracepointProbe {
            tracepoint,
            probe,
            data,
        })
    }
}

impl Drop for TracepointProbe {
    fn drop(&mut self) {
        // SAFETY: this exact probe was registered in `attach`.
        unsafe {
            bindings::tracepoint_probe_unregister(self.tracepoint.as_ptr(), self.probe, self.data)
        };
        // Calls that already entered the probe may still be running.
        // SAFETY: process context, no locks held.
        unsafe { bindings::chpox_tracepoint_synchronize_unregister() };
    }
}
