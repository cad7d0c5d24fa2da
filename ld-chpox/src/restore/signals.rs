// SPDX-License-Identifier: GPL-2.0

//! Signal dispositions, alternate stacks and pending signals, set up before
//! the module takes over: what the threads share ([`restore`]) and what each
//! has of its own ([`private`], [`altstack`]). Every signal stays blocked in
//! every thread until the module installs each thread's dumped mask.

use super::raw;
use super::Error;
use chpox_abi::dump::{Dump, SectionKind, SignalState, Thread};
use nix::libc;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};

/// `struct sigaction` as the kernel takes it (`rt_sigaction`), so that the
/// dumped restorer is kept (glibc's wrapper would put its own).
#[repr(C)]
#[derive(Default)]
pub(crate) struct KernelSigaction {
    pub(crate) handler: u64,
    pub(crate) flags: u64,
    pub(crate) restorer: u64,
    pub(crate) mask: u64,
}

/// `rt_sigaction()` as the kernel takes it, keeping the dumped restorer.
pub(crate) fn set_action(sig: libc::c_long, act: &KernelSigaction) -> libc::c_long {
    // SAFETY: the kernel reads a valid struct of the size it expects. The
    // callers install no handler that could run now: every signal is
    // blocked, or the action is the default one.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, act, 0usize, 8usize) }
}

/// `sigaltstack()`, which nix does not offer.
fn set_altstack(ss: &libc::stack_t) -> libc::c_long {
    // SAFETY: the kernel only records the values.
    unsafe { libc::syscall(libc::SYS_sigaltstack, ss, 0usize) }
}

/// The alternate stack `altstack` (`ss_sp`, `ss_size`, `ss_flags` as
/// dumped) to set, if the thread had one.
pub(crate) fn altstack(altstack: [u64; 3]) -> Option<libc::stack_t> {
    let [sp, size, flags] = altstack;
    (size != 0 && flags & libc::SS_DISABLE as u64 == 0).then_some(libc::stack_t {
        ss_sp: sp as *mut libc::c_void,
        // SS_ONSTACK says the thread was running on it, not a setting.
        ss_flags: (flags as i32) & !libc::SS_ONSTACK,
        ss_size: size as usize,
    })
}

/// The number of the signal a dumped 128-byte siginfo is about.
fn signo_of(info: &[u8; 128]) -> Result<i32, Error> {
    let signo = i32::from_le_bytes([info[0], info[1], info[2], info[3]]);
    if !(1..=64).contains(&signo) {
        return Err(format!("a queued signal of impossible number {signo}").into());
    }
    Ok(signo)
}

/// The signals pending for one thread alone, to send it again.
pub(crate) struct Private {
    /// Signals queued with their siginfo (`rt_tgsigqueueinfo()`).
    pub(crate) queued: Vec<(i32, [u8; 128])>,
    /// Pending signals without a queued siginfo (`tgkill()`).
    pub(crate) raised: Vec<i32>,
}

/// What of `thread`'s pending signals is sent again, and how.
pub(crate) fn private(thread: &Thread<'_>) -> Result<Private, Error> {
    let mut covered = 0u64;
    let mut queued = Vec::new();
    for q in thread.queued() {
        let signo = signo_of(&q.info)?;
        covered |= 1 << (signo - 1);
        queued.push((signo, q.info));
    }
    let raised = uncovered(thread.info.pending, covered).collect();
    Ok(Private { queued, raised })
}

/// The signals of the `pending` set that no queued siginfo stands for.
fn uncovered(pending: u64, covered: u64) -> impl Iterator<Item = i32> {
    (1..=64i32).filter(move |sig| pending & !covered & (1 << (sig - 1)) != 0)
}

/// Restores the signal state process `process`'s threads share: blocks
/// everything in this thread (the threads it starts inherit the mask),
/// sets the dispositions and sends the process-directed signals again.
pub(crate) fn restore(dump: &Dump<'_>, process: u32) -> Result<(), Error> {
    let payload = dump.only(process, SectionKind::Signals)?.payload;
    let (state, queued) = SignalState::decode(payload)?;
    // Everything stays blocked until the module installs each thread's
    // dumped mask.
    signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None)
        .map_err(|e| format!("sigprocmask: {e}"))?;
    for (i, a) in state.actions.iter().enumerate() {
        let sig = i as libc::c_long + 1;
        if sig == Signal::SIGKILL as libc::c_long || sig == Signal::SIGSTOP as libc::c_long {
            continue;
        }
        let act = KernelSigaction {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        };
        raw(set_action(sig, &act), &format!("signal {sig}"))?;
    }
    // Process-directed signals: queued again with their siginfo, or sent
    // with kill(), to the process (any of its threads may take them).
    let pid = std::process::id() as libc::c_long;
    let mut covered = 0u64;
    for q in queued {
        let signo = signo_of(&q.info)?;
        covered |= 1 << (signo - 1);
        // SAFETY: a 128-byte siginfo for our own process; every signal is
        // blocked, so none is delivered to ld-chpox.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigqueueinfo,
                pid,
                signo as libc::c_long,
                q.info.as_ptr(),
            )
        };
        raw(ret, &format!("re-queue pending signal {signo}"))?;
    }
    for sig in uncovered(state.shared_pending, covered) {
        // SAFETY: sends a blocked signal to our own process (a real-time
        // one perhaps, which nix's `Signal` cannot name).
        let ret = unsafe { libc::syscall(libc::SYS_kill, pid, sig as libc::c_long) };
        raw(ret, &format!("re-raise pending signal {sig}"))?;
    }
    Ok(())
}

/// Thread-private signals of the thread we run in, `tid` of process `pid`:
/// sent again by the thread itself, as the kernel lets only a thread queue
/// a siginfo that looks sent by `tgkill()` or the kernel to itself.
pub(crate) fn restore_private(pid: i32, tid: i32, private: &Private) -> Result<(), Error> {
    let (pid, tid) = (pid as libc::c_long, tid as libc::c_long);
    for (signo, info) in &private.queued {
        // SAFETY: a 128-byte siginfo for this very thread, which blocks
        // every signal.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                tid,
                *signo as libc::c_long,
                info.as_ptr(),
            )
        };
        raw(ret, &format!("re-queue pending signal {signo}"))?;
    }
    for &sig in &private.raised {
        // SAFETY: sends a blocked signal to this very thread.
        let ret = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig as libc::c_long) };
        raw(ret, &format!("re-raise pending signal {sig}"))?;
    }
    Ok(())
}

/// Sets this thread's alternate signal stack, if it had one.
pub(crate) fn restore_altstack(altstack_dumped: [u64; 3]) -> Result<(), Error> {
    if let Some(ss) = altstack(altstack_dumped) {
        raw(set_altstack(&ss), "sigaltstack")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{altstack, signo_of, uncovered};

    #[test]
    fn only_signals_without_a_siginfo_are_raised() {
        let pending = 1 << 1 | 1 << 9 | 1 << 63;
        let raised: Vec<i32> = uncovered(pending, 1 << 9).collect();
        assert_eq!(raised, [2, 64]);
    }

    #[test]
    fn queued_signals_of_impossible_numbers_are_errors() {
        let mut info = [0u8; 128];
        for bad in [0i32, 65, -1] {
            info[..4].copy_from_slice(&bad.to_le_bytes());
            assert!(signo_of(&info).is_err());
        }
        info[..4].copy_from_slice(&64i32.to_le_bytes());
        assert_eq!(signo_of(&info).unwrap(), 64);
    }

    #[test]
    fn a_disabled_or_empty_altstack_is_not_set() {
        assert!(altstack([0x7000, 0, 0]).is_none());
        assert!(altstack([0x7000, 8192, nix::libc::SS_DISABLE as u64]).is_none());
        let ss = altstack([0x7000, 8192, nix::libc::SS_ONSTACK as u64]).unwrap();
        assert_eq!((ss.ss_flags, ss.ss_size), (0, 8192));
    }
}
