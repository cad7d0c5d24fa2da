// SPDX-License-Identifier: GPL-2.0

//! One thread of a process: a [`SectionKind::Thread`](super::SectionKind)
//! payload, the [`ThreadInfo`] record, the signals queued for this thread
//! alone, and its FPU/SSE/AVX state (an XSAVE image in the user ABI format,
//! taken as it is). A process has one such section per thread, the thread
//! group leader's first; the order of the sections numbers the threads.

use super::registers::{Registers, RseqArea, SleepRestart};
use super::signals::QueuedSignal;
use super::{pad8, padding, DumpError, Reader, USER_END};

/// Bits of [`ThreadInfo::flags`].
pub mod thread_flags {
    /// The thread has an rseq area ([`super::ThreadInfo::rseq`]).
    pub const RSEQ: u32 = 1;
    /// The thread was in a sleep it continues after restore
    /// ([`super::ThreadInfo::sleep`]).
    pub const SLEEP: u32 = 2;
    /// Every flag this version knows.
    pub const ALL: u32 = RSEQ | SLEEP;
}

/// Most threads of one process a dump may hold.
pub const THREADS_MAX: u32 = 4096;
/// Size of `struct robust_list_head` of x86_64: the only length
/// `set_robust_list()` accepts.
pub const ROBUST_LIST_HEAD_SIZE: u64 = 24;
/// Smallest and largest XSAVE image: legacy area and header, and far more
/// than any x86 CPU defines.
pub const XSTATE_MIN: usize = 512 + 64;
/// See [`XSTATE_MIN`].
pub const XSTATE_MAX: usize = 64 * 1024;
/// Most signals queued for one thread a dump may hold.
const QUEUED_MAX: u32 = 1 << 16;

record! {
    /// What one thread has of its own.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ThreadInfo ["thread", lens ThreadLens] {
        /// Thread id, in the checkpointed process's pid namespace (the
        /// leader's is the process id).
        tid: i32,
        /// Which optional parts hold a value: `thread_flags`.
        flags: u32,
        /// Address the kernel clears (and wakes a futex at) when the
        /// thread exits, as set by `set_tid_address()` or `clone()`'s
        /// `CLONE_CHILD_CLEARTID`: how `pthread_join()` waits (0: none).
        clear_child_tid: u64,
        /// Head of the robust futex list (`set_robust_list()`; 0: none).
        robust_list: u64,
        /// Its length as registered (0 when there is no list).
        robust_list_len: u64,
        /// The thread's name (`comm`), NUL-padded.
        comm: [u8; 16],
        /// Blocked signals (bit n-1 for signal n).
        blocked: u64,
        /// Alternate signal stack: `ss_sp`, `ss_size`, `ss_flags`.
        altstack: [u64; 3],
        /// Signals pending for this thread alone.
        pending: u64,
        /// The registered rseq area, if `flags` has `RSEQ`.
        rseq: RseqArea,
        /// The sleep to continue, if `flags` has `SLEEP`.
        sleep: SleepRestart,
        /// General registers in `struct user_regs_struct` order (see
        /// [`Registers`]).
        regs: [u64; 27],
        /// Number of signals queued for this thread, which follow.
        let queued: u32,
        /// Length of the XSAVE image, which follows them, padded to 8.
        let xstate: u32,
    }
}

/// A decoded thread section.
#[derive(Debug, Clone)]
pub struct Thread<'a> {
    /// The fixed part.
    pub info: ThreadInfo,
    queued: &'a [u8],
    /// The XSAVE image.
    pub xstate: &'a [u8],
}

impl<'a> Thread<'a> {
    /// The signals queued for this thread.
    pub fn queued(&self) -> impl Iterator<Item = QueuedSignal> + Clone + 'a {
        let mut r = Reader::new(self.queued);
        core::iter::from_fn(move || QueuedSignal::read(&mut r).ok())
    }

    /// The general registers.
    pub fn registers(&self) -> Registers {
        Registers(self.info.regs)
    }

    /// The rseq area, if the thread had one.
    pub fn rseq(&self) -> Option<RseqArea> {
        (self.info.flags & thread_flags::RSEQ != 0).then_some(self.info.rseq)
    }

    /// The sleep to continue, if the thread was in one.
    pub fn sleep(&self) -> Option<SleepRestart> {
        (self.info.flags & thread_flags::SLEEP != 0).then_some(self.info.sleep)
    }
}

impl ThreadInfo {
    /// Length of the payload with `queued` queued signals and an XSAVE
    /// image of `xstate` bytes (both the writer's own counts).
    pub fn payload_len(queued: usize, xstate: usize) -> u64 {
        (Self::SIZE + queued * QueuedSignal::SIZE + pad8(xstate)) as u64
    }

    /// Writes the payload: the record, the queued signals, the image.
    pub fn encode(&self, queued: &[QueuedSignal], xstate: &[u8], out: &mut dyn FnMut(&[u8])) {
        let lens = ThreadLens {
            queued: queued.len() as u32,
            xstate: xstate.len() as u32,
        };
        self.put_with(&lens, out);
        for q in queued {
            q.put(out);
        }
        out(xstate);
        out(padding(xstate.len()));
    }

    /// Reads and checks a payload: every value as the kernel checks it
    /// when a thread sets it itself (registers of 64-bit user mode, user
    /// addresses, `set_robust_list()`'s length, `rseq()`'s area, a sleep
    /// `clock_nanosleep()` takes), and an XSAVE image of a possible size.
    pub fn decode(payload: &[u8]) -> Result<Thread<'_>, DumpError> {
        let mut r = Reader::new(payload);
        let (info, lens) = ThreadInfo::read_with(&mut r)?;
        if lens.queued > QUEUED_MAX {
            return Err(DumpError::Invalid("too many signals queued for a thread"));
        }
        let queued = r.take(
            lens.queued as usize * QueuedSignal::SIZE,
            "queued signals of a thread",
        )?;
        let xstate = r.padded(lens.xstate as usize, "FPU state of a thread")?;
        if !r.rest().is_empty() {
            return Err(DumpError::Invalid("thread section too long"));
        }
        if !(XSTATE_MIN..=XSTATE_MAX).contains(&xstate.len()) {
            return Err(DumpError::Invalid("FPU state of an impossible size"));
        }
        info.check()?;
        Ok(Thread {
            info,
            queued,
            xstate,
        })
    }

    fn check(&self) -> Result<(), DumpError> {
        if self.tid <= 0 || self.flags & !thread_flags::ALL != 0 {
            return Err(DumpError::Invalid("impossible thread identity"));
        }
        if self.clear_child_tid >= USER_END || self.robust_list >= USER_END {
            return Err(DumpError::Invalid("thread address outside user space"));
        }
        let robust_ok = match self.robust_list {
            0 => self.robust_list_len == 0 || self.robust_list_len == ROBUST_LIST_HEAD_SIZE,
            _ => self.robust_list_len == ROBUST_LIST_HEAD_SIZE,
        };
        if !robust_ok {
            return Err(DumpError::Invalid(
                "robust futex list of an impossible size",
            ));
        }
        Registers(self.regs).check()?;
        if self.flags & thread_flags::RSEQ != 0 {
            self.rseq.check()?;
        }
        if self.flags & thread_flags::SLEEP != 0 {
            self.sleep.check()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn sample() -> ThreadInfo {
        let mut regs = [0u64; 27];
        regs[Registers::CS] = 0x33;
        regs[Registers::SS] = 0x2b;
        regs[Registers::RIP] = 0x40_1000;
        ThreadInfo {
            tid: 1234,
            flags: thread_flags::RSEQ,
            clear_child_tid: 0x7f00_0000_09d0,
            robust_list: 0x7f00_0000_09e0,
            robust_list_len: ROBUST_LIST_HEAD_SIZE,
            comm: *b"worker\0\0\0\0\0\0\0\0\0\0",
            blocked: 1 << 9,
            altstack: [0x7f00_0001_0000, 65536, 0],
            pending: 1 << 11,
            rseq: RseqArea {
                addr: 0x7f00_0000_0a00,
                len: 32,
                sig: 0x5305_3053,
            },
            sleep: SleepRestart::default(),
            regs,
        }
    }

    fn encode(info: &ThreadInfo, queued: &[QueuedSignal], xstate: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        info.encode(queued, xstate, &mut |x| b.extend_from_slice(x));
        assert_eq!(
            b.len() as u64,
            ThreadInfo::payload_len(queued.len(), xstate.len())
        );
        b
    }

    /// selftests/test_security.sh patches these offsets of a real dump.
    #[test]
    fn offsets_the_selftests_patch() {
        let info = sample();
        let b = info.encode_with(&ThreadLens::default());
        assert_eq!(b[4..8], info.flags.to_le_bytes());
        assert_eq!(b[48..56], info.blocked.to_le_bytes());
        assert_eq!(b[88..96], info.rseq.addr.to_le_bytes());
    }

    #[test]
    fn threads_round_trip() {
        let info = sample();
        let q = QueuedSignal { info: [12; 128] };
        let b = encode(&info, &[q, q], &[1; 835]);
        let t = ThreadInfo::decode(&b).unwrap();
        assert_eq!(t.info, info);
        assert_eq!(t.queued().collect::<Vec<_>>(), [q, q]);
        assert_eq!(t.xstate, &[1; 835][..]);
        assert_eq!(t.rseq(), Some(info.rseq));
        assert_eq!(t.sleep(), None);
    }

    #[test]
    fn impossible_threads_are_refused() {
        let good = sample();
        for bad in [
            ThreadInfo { tid: 0, ..good },
            ThreadInfo { flags: 4, ..good },
            ThreadInfo {
                clear_child_tid: USER_END,
                ..good
            },
            ThreadInfo {
                robust_list_len: 16,
                ..good
            },
            ThreadInfo {
                rseq: RseqArea {
                    addr: 8,
                    ..good.rseq
                },
                ..good
            },
            // A sleep on a clock `clock_nanosleep()` refuses (the default
            // sleep, on CLOCK_REALTIME, is a possible one).
            ThreadInfo {
                flags: thread_flags::SLEEP,
                sleep: SleepRestart {
                    clockid: 3,
                    ..SleepRestart::default()
                },
                ..good
            },
            ThreadInfo {
                robust_list: 0,
                robust_list_len: 8,
                ..good
            },
            ThreadInfo {
                regs: [0; 27],
                ..good
            },
        ] {
            let b = encode(&bad, &[], &[0; 576]);
            assert!(ThreadInfo::decode(&b).is_err(), "{bad:?}");
        }
        for len in [0, 575, XSTATE_MAX + 1] {
            let b = encode(&good, &[], &std::vec![0; len]);
            assert!(ThreadInfo::decode(&b).is_err(), "{len}");
        }
        let mut b = encode(&good, &[], &[0; 576]);
        b.push(0);
        assert!(ThreadInfo::decode(&b).is_err());
    }
}
