// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.

use crate::kernel_ext::bindings;
use core::marker::PhantomData;

/// Holds the RCU read lock until dropped. What it protects may be borrowed
/// for as long as the guard is: such borrows are tied to `&RcuReadGuard`.
///
/// # Invariants
///
/// The RCU read lock is held from `new` to `drop`, on this CPU's context
/// (the guard is neither `Send` nor `Sync`).
pub(crate) struct RcuReadGuard(PhantomData<*mut ()>);

impl RcuReadGuard {
    /// Enters a read-side critical section: no sleeping until it is dropped.
    pub(crate) fn new() -> Self {
        // SAFETY: a plain call, paired with the unlock in `drop`.
        unsafe { bindings::chpox_rcu_read_lock() };
        // INVARIANT: the lock was just taken.
        RcuReadGuard(PhantomData)
    }
}

impl Drop for RcuReadGuard {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the lock is held.
        unsafe { bindings::chpox_rcu_read_unlock() };
    }
}
