// SPDX-License-Identifier: GPL-2.0

//! Dispositions, blocked and pending signals, alternate stack.

use super::current;
use crate::abi::dump::{QueuedSignal, SectionKind, SigAction, SignalState};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// Reads a pointer-sized field (handler and restorer are function pointers
/// that may hold SIG_DFL/SIG_IGN, which are not functions).
///
/// # Safety
///
/// `field` must point to a readable pointer-sized field.
unsafe fn word<T>(field: *const T) -> u64 {
    // SAFETY: the caller's guarantee; function pointers are one word.
    unsafe { field.cast::<usize>().read() as u64 }
}

/// The queued siginfos of `list` (a `sigpending` list), at most `max`.
///
/// # Safety
///
/// The caller holds the siglock that protects `list`.
unsafe fn queued(
    list: *const bindings::list_head,
    shared: bool,
    out: &mut KVec<QueuedSignal>,
    max: usize,
) -> usize {
    let mut count = 0;
    // SAFETY: the list is stable under the siglock; every entry is the
    // `list` field, first in `struct sigqueue`.
    unsafe {
        let mut node = (*list).next;
        while !core::ptr::eq(node, list) {
            count += 1;
            if out.len() < max {
                let q = node.cast::<bindings::sigqueue>();
                let mut info = [0u8; 128];
                let src = core::ptr::addr_of!((*q).info).cast::<u8>();
                let n = core::mem::size_of::<bindings::kernel_siginfo>().min(128);
                core::ptr::copy_nonoverlapping(src, info.as_mut_ptr(), n);
                // Capacity reserved by the caller: no allocation here.
                let _ = out.push(QueuedSignal { shared, info }, GFP_ATOMIC);
            }
            node = (*node).next;
        }
    }
    count
}

pub(super) fn write(out: &mut DumpFile) -> Result {
    let task = current();
    let mut entries = KVec::new();
    let mut capacity = 16;
    let state = loop {
        entries.reserve(capacity, GFP_KERNEL)?;
        // SAFETY: current's sighand and signal structs live as long as it.
        let sighand = unsafe { (*task).sighand };
        // SAFETY: the siglock protects everything read below.
        let flags = unsafe { bindings::chpox_spin_lock_irqsave(&mut (*sighand).siglock) };
        let mut st = SignalState::default();
        // SAFETY: under the siglock, see above.
        let total = unsafe {
            for (i, a) in st.actions.iter_mut().enumerate() {
                let sa = core::ptr::addr_of!((*sighand).action[i].sa);
                *a = SigAction {
                    handler: word(core::ptr::addr_of!((*sa).sa_handler)),
                    flags: (*sa).sa_flags as u64,
                    restorer: word(core::ptr::addr_of!((*sa).sa_restorer)),
                    mask: (*sa).sa_mask.sig[0] as u64,
                };
            }
            st.blocked = (*task).blocked.sig[0] as u64;
            st.altstack = [
                (*task).sas_ss_sp as u64,
                (*task).sas_ss_size as u64,
                (*task).sas_ss_flags as u64,
            ];
            st.pending = (*task).pending.signal.sig[0] as u64;
            let shared = core::ptr::addr_of!((*(*task).signal).shared_pending);
            st.shared_pending = (*shared).signal.sig[0] as u64;
            entries.clear_keep_capacity();
            let max = capacity;
            queued(
                core::ptr::addr_of!((*task).pending.list),
                false,
                &mut entries,
                max,
            ) + queued(core::ptr::addr_of!((*shared).list), true, &mut entries, max)
        };
        // SAFETY: locked above.
        unsafe { bindings::chpox_spin_unlock_irqrestore(&mut (*sighand).siglock, flags) };
        if total <= capacity {
            st.queued = total as u32;
            break st;
        }
        capacity = total + 16; // more were queued than we had room for
    };
    let len = (SignalState::SIZE + entries.len() * SignalState::QUEUED_SIZE) as u64;
    out.section(SectionKind::Signals, len, |w, out| {
        state.encode(&mut |b| w.put(out, b));
        for q in entries.iter() {
            SignalState::encode_queued(q, &mut |b| w.put(out, b));
        }
    });
    Ok(())
}

trait ClearKeepCapacity {
    fn clear_keep_capacity(&mut self);
}

impl<T: Copy> ClearKeepCapacity for KVec<T> {
    fn clear_keep_capacity(&mut self) {
        // SAFETY: `T: Copy`, nothing to drop; length 0 is always valid.
        unsafe { self.set_len(0) };
    }
}
