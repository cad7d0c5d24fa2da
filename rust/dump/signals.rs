// SPDX-License-Identifier: GPL-2.0

//! Dispositions, blocked and pending signals, alternate stack.

use crate::abi::dump::{QueuedSignal, SectionKind, SigAction, SignalState};
use crate::kernel_ext::signal::SiglockGuard;
use crate::writer::DumpFile;
use kernel::prelude::*;

pub(super) fn write(out: &mut DumpFile) -> Result {
    let mut capacity = 16;
    // Read under the siglock, where nothing can be allocated: with room
    // for `capacity` queued signals, again with more if there were more.
    let (state, entries) = loop {
        let mut entries = KVec::with_capacity(capacity, GFP_KERNEL)?;
        let siglock = SiglockGuard::lock_current();
        let mut st = SignalState::default();
        for (i, a) in st.actions.iter_mut().enumerate() {
            if let Some(d) = siglock.disposition(i) {
                *a = SigAction {
                    handler: d.handler,
                    flags: d.flags,
                    restorer: d.restorer,
                    mask: d.mask,
                };
            }
        }
        st.blocked = siglock.blocked();
        st.altstack = siglock.altstack();
        (st.pending, st.shared_pending) = siglock.pending();
        let mut total = 0usize;
        siglock.for_each_queued(|shared, info| {
            total += 1;
            if entries.len() < capacity {
                // Within the capacity reserved above: no allocation.
                let _ = entries.push(
                    QueuedSignal {
                        shared,
                        info: *info,
                    },
                    GFP_ATOMIC,
                );
            }
        });
        drop(siglock);
        if total <= capacity {
            st.queued = total as u32;
            break (st, entries);
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
