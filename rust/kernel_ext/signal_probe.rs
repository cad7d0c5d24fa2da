// SPDX-License-Identifier: GPL-2.0

//! A kprobe on `send_signal_locked()`: every signal sent to a task passes
//! through that function with the target's `siglock` held, before it is
//! queued or acted on. The probe's filter may swallow a signal: the
//! function then returns 0 without running, as if it had been sent, and
//! the signal never exists for its target, not even as a default action.

use crate::kernel_ext::bindings;
use crate::kernel_ext::task::{self, Task};
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Who sent a signal.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    /// A process: `kill`, `sigqueue`, `tgkill`.
    Process,
    /// The kernel itself: faults, timers, the terminal.
    Kernel,
}

/// What to do with a signal on its way.
pub(crate) trait SignalFilter: Send + Sync {
    /// Called for every signal sent in the system, in atomic context (a
    /// spinlock held, interrupts off): no sleeping, no `GFP_KERNEL`.
    /// Returns true to swallow the signal.
    fn swallow(&self, signal: u32, target: &Task, sender: Sender) -> bool;
}

/// `si_code`s of signals sent by a process: `kill`, `sigqueue`, `tgkill`.
const SI_USER: i32 = 0;
const SI_QUEUE: i32 = -1;
const SI_TKILL: i32 = -6;
/// `SEND_SIG_PRIV`: the kernel's own signals carry no siginfo pointer but 1.
const SEND_SIG_PRIV: usize = 1;

/// The kprobe and its filter; `kprobe` first so that the handler finds the
/// filter from the pointer it is given.
#[repr(C)]
struct Probe<F: SignalFilter> {
    kprobe: bindings::kprobe,
    filter: F,
}

/// `filter` attached to `send_signal_locked()`; detached when dropped.
///
/// # Invariants
///
/// `probe.kprobe` is registered, with `on_send_signal::<F>` as its
/// pre-handler, until `drop`.
pub(crate) struct SendSignalProbe<F: SignalFilter> {
    probe: KBox<Probe<F>>,
}

// SAFETY: the kprobe is only touched by the kprobe core and in `drop`; the
// filter is `Send + Sync`.
unsafe impl<F: SignalFilter> Send for SendSignalProbe<F> {}
// SAFETY: `SendSignalProbe` has no methods taking `&self`.
unsafe impl<F: SignalFilter> Sync for SendSignalProbe<F> {}

/// Where a skipped `send_signal_locked()` continues: it returns 0 to its
/// caller, as if the signal had been sent.
extern "C" fn signal_sent() -> c_int {
    0
}

/// Who sent the signal whose siginfo argument is `info`.
///
/// # Safety
///
/// `info` is the siginfo argument of a running `send_signal_locked()`.
unsafe fn sender(info: usize) -> Sender {
    if info <= SEND_SIG_PRIV {
        return Sender::Kernel;
    }
    let info = info as *const bindings::kernel_siginfo;
    // SAFETY: beyond the two special values, `info` points to a live siginfo.
    let code = unsafe { (*info).__bindgen_anon_1.si_code };
    if matches!(code, SI_USER | SI_QUEUE | SI_TKILL) {
        Sender::Process
    } else {
        Sender::Kernel
    }
}

/// The kprobe pre-handler. Returning 1 tells the kprobe core that we moved
/// the instruction pointer.
///
/// # Safety
///
/// Called by the kprobe core only, at the entry of `send_signal_locked()`,
/// with the probe of a live `SendSignalProbe<F>` and that function's
/// registers.
unsafe extern "C" fn on_send_signal<F: SignalFilter>(
    p: *mut bindings::kprobe,
    regs: *mut bindings::pt_regs,
) -> c_int {
    // SAFETY: `p` is the first field of a `Probe<F>`, alive while registered.
    let probe = unsafe { &*p.cast::<Probe<F>>() };
    // SAFETY: the registers of the probed call, ours to read and change.
    let regs = unsafe { &mut *regs };
    // send_signal_locked(int sig, struct kernel_siginfo *info,
    //                    struct task_struct *t, enum pid_type type)
    let signal = regs.di as u32;
    // SAFETY: `si` is the siginfo argument.
    let sender = unsafe { sender(regs.si) };
    // SAFETY: the target is alive while its siglock is held, for the call.
    let target = unsafe { task::from_raw(regs.dx as *mut bindings::task_struct) };
    if !probe.filter.swallow(signal, target, sender) {
        return 0;
    }
    regs.ax = 0;
    regs.ip = signal_sent as *const () as usize;
    1
}

impl<F: SignalFilter> SendSignalProbe<F> {
    pub(crate) fn attach(filter: F) -> Result<Self> {
        // SAFETY: all-zero is the documented initial state of a kprobe.
        let mut kprobe: bindings::kprobe = unsafe { core::mem::zeroed() };
        kprobe.symbol_name = kernel::c_str!("send_signal_locked").as_char_ptr();
        kprobe.pre_handler = Some(on_send_signal::<F>);
        let mut probe = KBox::new(Probe { kprobe, filter }, GFP_KERNEL)?;
        // SAFETY: the probe lives in a box that `Self` keeps until it
        // unregisters it; the handler matches the kprobe prototype.
        let ret = unsafe { bindings::register_kprobe(&mut probe.kprobe) };
        if ret != 0 {
            pr_err!("cannot probe send_signal_locked(): error {}\n", ret);
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above.
        let attached = SendSignalProbe { probe };
        if attached.probe.kprobe.flags & bindings::KPROBE_FLAG_FTRACE == 0 {
            // An int3 kprobe runs as NMI: no locks, no allocation.
            pr_err!("needs CONFIG_KPROBES_ON_FTRACE: kprobes through int3 run in NMI context\n");
            return Err(ENODEV);
        }
        Ok(attached)
    }
}

impl<F: SignalFilter> Drop for SendSignalProbe<F> {
    fn drop(&mut self) {
        // Waits for running handlers.
        // SAFETY: by the type invariant the probe is registered.
        unsafe { bindings::unregister_kprobe(&mut self.probe.kprobe) };
    }
}
