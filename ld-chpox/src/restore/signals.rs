// SPDX-License-Identifier: GPL-2.0

//! Signal dispositions, alternate stack and pending signals, set up before
//! the module takes over; every signal stays blocked until the module
//! installs the dumped mask.

use super::raw;
use super::Error;
use chpox_abi::dump::{Dump, SectionKind, SignalState};
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

/// Queues signal `signo` with its dumped 128-byte siginfo to ourselves:
/// to the process (`shared`) or to its only thread. nix offers neither call.
fn queue(pid: libc::c_long, signo: libc::c_long, shared: bool, info: &[u8; 128]) -> libc::c_long {
    if shared {
        // SAFETY: a 128-byte siginfo for ourselves.
        unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, signo, info.as_ptr()) }
    } else {
        // SAFETY: as above; the only thread's tid is the pid.
        unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, pid, signo, info.as_ptr()) }
    }
}

/// Sends signal `sig` (any number, real-time ones included, which nix's
/// `Signal` cannot name) to our only thread.
fn raise_any(pid: libc::c_long, sig: i32) -> libc::c_long {
    // SAFETY: sends a blocked signal to ourselves.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, pid, sig) }
}

/// Restores the signal state of process `process`.
pub(crate) fn restore(dump: &Dump<'_>, process: u32) -> Result<(), Error> {
    let payload = dump.only(process, SectionKind::Signals)?.payload;
    let (state, queued) = SignalState::decode(payload)?;
    // Everything stays blocked until the module installs the dumped mask.
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
    let [sp, size, flags] = state.altstack;
    if size != 0 && flags & libc::SS_DISABLE as u64 == 0 {
        let ss = libc::stack_t {
            ss_sp: sp as *mut libc::c_void,
            ss_flags: (flags as i32) & !libc::SS_ONSTACK,
            ss_size: size as usize,
        };
        raw(set_altstack(&ss), "sigaltstack")?;
    }
    // Pending signals: queued again with their siginfo, to ourselves.
    let pid = std::process::id() as libc::c_long;
    let mut covered = 0u64;
    for q in queued {
        let signo =
            i32::from_le_bytes([q.info[0], q.info[1], q.info[2], q.info[3]]) as libc::c_long;
        covered |= 1 << (signo - 1);
        raw(
            queue(pid, signo, q.shared, &q.info),
            &format!("re-queue pending signal {signo}"),
        )?;
    }
    for sig in 1..=64i32 {
        if (state.pending | state.shared_pending) & !covered & (1 << (sig - 1)) != 0 {
            raw(raise_any(pid, sig), "re-raise pending signal")?;
        }
    }
    Ok(())
}
