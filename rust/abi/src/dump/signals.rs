// SPDX-License-Identifier: GPL-2.0

//! The signal state a process's threads share: a
//! [`SectionKind::Signals`](super::SectionKind::Signals) payload, the
//! [`SignalState`] record followed by its [`QueuedSignal`]s. (What each
//! thread has of its own, its mask, alternate stack and the signals sent
//! to it alone, is in its [`ThreadInfo`](super::ThreadInfo).)

use super::{DumpError, Reader, USER_END};

record! {
    /// One signal disposition, as `struct sigaction` of x86_64.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct SigAction ["sigaction"] {
        /// Handler address, or 0 (SIG_DFL) / 1 (SIG_IGN).
        handler: u64,
        /// `SA_*` flags.
        flags: u64,
        /// `sa_restorer`.
        restorer: u64,
        /// Signals blocked while the handler runs (bit n-1 for signal n).
        mask: u64,
    }
}

record! {
    /// A queued signal with its `siginfo`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct QueuedSignal ["queued signal"] {
        /// The 128-byte `siginfo_t`.
        info: [u8; 128],
    }
}

record! {
    /// Signal state of a process, shared by its threads.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SignalState ["signals", lens SignalLens] {
        /// Dispositions of signals 1 to 64.
        actions: [SigAction; 64],
        /// Signals pending for the whole process.
        shared_pending: u64,
        /// Number of queued signals that follow the record.
        let count: u64,
        /// Number of queued `siginfo`s that follow.
        tail queued: u32,
    }
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            actions: [SigAction::default(); 64],
            shared_pending: 0,
            queued: 0,
        }
    }
}

impl SignalState {
    /// Size of one queued signal.
    pub const QUEUED_SIZE: usize = QueuedSignal::SIZE;

    /// Writes the fixed part; the caller follows it with `queued` entries
    /// written by [`SignalState::encode_queued`].
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        let queued = u64::from(self.queued);
        self.put_with(&SignalLens { count: queued }, out);
    }

    /// Writes one queued signal.
    pub fn encode_queued(q: &QueuedSignal, out: &mut dyn FnMut(&[u8])) {
        q.put(out);
    }

    /// Reads a payload: the state and its queued signals.
    pub fn decode(
        payload: &[u8],
    ) -> Result<(SignalState, impl Iterator<Item = QueuedSignal> + '_), DumpError> {
        let mut r = Reader::new(payload);
        let (mut st, lens) = SignalState::read_with(&mut r)?;
        let rest = r.rest();
        if lens.count > 1 << 20
            || lens.count.checked_mul(Self::QUEUED_SIZE as u64) != Some(rest.len() as u64)
        {
            return Err(DumpError::Invalid(
                "queued signals do not match their count",
            ));
        }
        st.queued = lens.count as u32;
        let user = |a: u64| a >= USER_END;
        if st
            .actions
            .iter()
            .any(|a| user(a.handler) || user(a.restorer))
        {
            return Err(DumpError::Invalid("signal handler outside user space"));
        }
        let mut r = Reader::new(rest);
        let entries = (0..st.queued).map_while(move |_| QueuedSignal::read(&mut r).ok());
        Ok((st, entries))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn signal_states_round_trip() {
        let mut st = SignalState {
            actions: [SigAction::default(); 64],
            shared_pending: 1 << 11,
            queued: 1,
        };
        st.actions[11] = SigAction {
            handler: 0x40_1234,
            flags: 0x0400_0000,
            restorer: 0x40_2000,
            mask: 0,
        };
        let q = QueuedSignal { info: [7; 128] };
        let mut b = Vec::new();
        st.encode(&mut |x| b.extend_from_slice(x));
        SignalState::encode_queued(&q, &mut |x| b.extend_from_slice(x));
        let (back, queued) = SignalState::decode(&b).unwrap();
        assert_eq!(back, st);
        assert_eq!(queued.collect::<Vec<_>>(), [q]);
        assert!(SignalState::decode(&b[..b.len() - 1]).is_err());
    }
}
