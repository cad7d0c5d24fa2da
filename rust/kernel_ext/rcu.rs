// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.

use crate::kernel_ext::bindings;

/// An RCU read-side critical section, ended on drop. Not `Send`: it must
/// end on the CPU context it began in.
pub(crate) struct RcuReadGuard(core::marker::PhantomData<*mut ()>);

impl RcuReadGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: begins a read-side section, ended in `drop`.
        unsafe { bindings::chpox_rcu_read_lock() };
        RcuReadGuard(core::marker::PhantomData)
    }
}

impl Drop for RcuReadGuard {
    fn drop(&mut self) {
        // SAFETY: begun in `new`.
        unsafe { bindings::chpox_rcu_read_unlock() };
    }
}
