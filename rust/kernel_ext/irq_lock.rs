// SPDX-License-Identifier: GPL-2.0

//! A spinlock that keeps local interrupts off while held.
//!
//! The registry will be consulted on the signal-sending path, which runs in
//! hard-interrupt context for timer signals (`setitimer`), so its lock must be
//! irq-safe; the `kernel` crate of 6.12 offers only the plain spinlock.

use crate::kernel_ext::bindings;
use kernel::ffi::{c_char, c_ulong};
use kernel::sync::lock::{Backend, Lock};

/// A `spinlock_t` taken with `spin_lock_irqsave()`.
pub(crate) type IrqSpinLock<T> = Lock<T, IrqSaveBackend>;

/// The [`Backend`] of [`IrqSpinLock`].
pub(crate) struct IrqSaveBackend;

// SAFETY: `spinlock_t` gives mutual exclusion; lock and unlock pair the
// irqsave/irqrestore calls with the flags saved by the former.
unsafe impl Backend for IrqSaveBackend {
    type State = bindings::spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: the caller guarantees `ptr` is writable and `name`/`key`
        // live forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees the lock was initialised.
        unsafe { bindings::chpox_spin_lock_irqsave(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, flags: &Self::GuardState) {
        // SAFETY: the caller owns the lock; `flags` came from `lock`.
        unsafe { bindings::chpox_spin_unlock_irqrestore(ptr, *flags) }
    }
}
