// SPDX-License-Identifier: GPL-2.0

//! The signal state of the current process, read under its `siglock`.

use crate::kernel_ext::bindings;
use core::marker::PhantomData;

/// One signal's disposition, as `sigaction()` shows it.
pub(crate) struct Disposition {
    /// `SIG_DFL` (0), `SIG_IGN` (1) or the handler's address.
    pub(crate) handler: u64,
    pub(crate) flags: u64,
    pub(crate) restorer: u64,
    /// Blocked while the handler runs (the first 64 signals).
    pub(crate) mask: u64,
}

/// Bytes of a queued siginfo as the dump keeps it.
pub(crate) const SIGINFO_BYTES: usize = 128;

/// The current task's `siglock`, held (interrupts off) until dropped: its
/// dispositions, mask, alternate stack and pending signals stay as read.
///
/// # Invariants
///
/// `sighand` is the current task's, whose `siglock` this guard holds with
/// the interrupt state in `flags`; the guard does not leave the task (it
/// is neither `Send` nor `Sync`).
pub(crate) struct SiglockGuard {
    task: *mut bindings::task_struct,
    sighand: *mut bindings::sighand_struct,
    flags: usize,
    _not_send: PhantomData<*mut ()>,
}

impl SiglockGuard {
    /// Takes the current task's siglock.
    pub(crate) fn lock_current() -> Self {
        // SAFETY: the current task is alive, and so is its sighand while it
        // runs (only exec or exit change it, neither of which is running).
        unsafe {
            let task = bindings::get_current();
            let sighand = (*task).sighand;
            let flags = bindings::chpox_spin_lock_irqsave(&raw mut (*sighand).siglock) as usize;
            // INVARIANT: locked just above.
            SiglockGuard {
                task,
                sighand,
                flags,
                _not_send: PhantomData,
            }
        }
    }

    /// The disposition of signal `index + 1`, for `index` below 64.
    pub(crate) fn disposition(&self, index: usize) -> Option<Disposition> {
        // SAFETY: under the siglock (type invariant); `action` has _NSIG
        // entries and `get` checks the index.
        let action = unsafe { (*self.sighand).action.get(index)? };
        let sa = &action.sa;
        Some(Disposition {
            // Handler and restorer are function pointers that may hold
            // SIG_DFL/SIG_IGN, which are not functions: read as words.
            handler: sa.sa_handler.map_or(0, |f| f as usize as u64),
            flags: sa.sa_flags as u64,
            restorer: sa.sa_restorer.map_or(0, |f| f as usize as u64),
            mask: sa.sa_mask.sig[0] as u64,
        })
    }

    /// The blocked mask (the first 64 signals).
    pub(crate) fn blocked(&self) -> u64 {
        // SAFETY: the current task's field, stable under the siglock.
        unsafe { (*self.task).blocked.sig[0] as u64 }
    }

    /// The alternate signal stack: address, size, flags.
    pub(crate) fn altstack(&self) -> [u64; 3] {
        // SAFETY: the current task's fields; only it changes them.
        unsafe {
            [
                (*self.task).sas_ss_sp as u64,
                (*self.task).sas_ss_size as u64,
                (*self.task).sas_ss_flags as u64,
            ]
        }
    }

    fn own_queue(&self) -> *mut bindings::sigpending {
        // SAFETY: the current task's field.
        unsafe { &raw mut (*self.task).pending }
    }

    fn shared_queue(&self) -> *mut bindings::sigpending {
        // SAFETY: the current task's signal_struct lives as long as it.
        unsafe { &raw mut (*(*self.task).signal).shared_pending }
    }

    /// Signals pending for the task alone, and for the whole process.
    pub(crate) fn pending(&self) -> (u64, u64) {
        // SAFETY: both sets are stable under the siglock.
        unsafe {
            (
                (*self.own_queue()).signal.sig[0] as u64,
                (*self.shared_queue()).signal.sig[0] as u64,
            )
        }
    }

    /// Calls `f(siginfo)` for each siginfo queued for the task alone, or
    /// for its whole process if `shared`. `f` runs under the siglock.
    pub(crate) fn for_each_queued(&self, shared: bool, mut f: impl FnMut(&[u8; SIGINFO_BYTES])) {
        let queue = if shared {
            self.shared_queue()
        } else {
            self.own_queue()
        };
        // SAFETY: the queue is stable under the siglock.
        let head = unsafe { &raw mut (*queue).list };
        // SAFETY: as above.
        let mut node = unsafe { (*head).next };
        while !core::ptr::eq(node, head) {
            let mut info = [0u8; SIGINFO_BYTES];
            let n = core::mem::size_of::<bindings::kernel_siginfo>().min(SIGINFO_BYTES);
            // SAFETY: every entry is the `list` field, first in `struct
            // sigqueue`, alive under the siglock; `info` has room for `n`
            // bytes.
            unsafe {
                let q = node.cast::<bindings::sigqueue>();
                let src = (&raw const (*q).info).cast::<u8>();
                core::ptr::copy_nonoverlapping(src, info.as_mut_ptr(), n);
                node = (*node).next;
            }
            f(&info);
        }
    }
}

impl Drop for SiglockGuard {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the siglock is held, taken with
        // `flags`.
        unsafe {
            bindings::chpox_spin_unlock_irqrestore(
                &raw mut (*self.sighand).siglock,
                self.flags as _,
            )
        };
    }
}
