// SPDX-License-Identifier: GPL-2.0

//! Signals: what the threads of a process share (dispositions, signals
//! pending for the process) and, for [`super::thread`], what each has of
//! its own (mask, alternate stack, signals sent to it alone).

use crate::abi::dump::{QueuedSignal, SectionKind, SigAction, SignalState};
use crate::kernel_ext::signal::SiglockGuard;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// Reads, under one hold of the siglock, what `read` takes from it and the
/// signals queued for the whole process (`shared`) or for the current
/// thread alone.
pub(super) fn read_queued<T>(
    shared: bool,
    read: impl Fn(&SiglockGuard) -> T,
) -> Result<(T, KVec<QueuedSignal>)> {
    let mut capacity = 16;
    // Nothing can be allocated under the siglock: read with room for
    // `capacity` queued signals, again with more if there were more.
    loop {
        let mut entries = KVec::with_capacity(capacity, GFP_KERNEL)?;
        let siglock = SiglockGuard::lock_current();
        let value = read(&siglock);
        let mut total = 0usize;
        siglock.for_each_queued(shared, |info| {
            total += 1;
            if entries.len() < capacity {
                // Within the capacity reserved above: no allocation.
                let _ = entries.push(QueuedSignal { info: *info }, GFP_ATOMIC);
            }
        });
        drop(siglock);
        if total <= capacity {
            return Ok((value, entries));
        }
        capacity = total + 16; // more were queued than we had room for
    }
}

/// Writes the process-wide signal state.
pub(super) fn write(out: &mut DumpFile) -> Result {
    let (mut state, entries) = read_queued(true, |siglock| {
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
        st.shared_pending = siglock.pending().1;
        st
    })?;
    state.queued = entries.len() as u32;
    let len = (SignalState::SIZE + entries.len() * SignalState::QUEUED_SIZE) as u64;
    out.section(SectionKind::Signals, len, |w, out| {
        state.encode(&mut |b| w.put(out, b));
        for q in entries.iter() {
            SignalState::encode_queued(q, &mut |b| w.put(out, b));
        }
    });
    Ok(())
}
