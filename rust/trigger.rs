// SPDX-License-Identifier: GPL-2.0

//! Catching the trigger signal: a kprobe on `send_signal_locked()`.
//!
//! Every signal sent to a task passes through that function with the
//! target's `siglock` held, before it is queued or acted on. When the signal
//! is a registered process's trigger, sent from user space, the probe queues
//! the checkpoint as task work on the target and makes the function return 0
//! without running: the signal never exists for the application, not even a
//! default action that would kill it. See `Documentation/design.rst`.

use crate::kernel_ext::bindings;
use crate::checkpoint;
use crate::registry::{Claim, Registry};
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::sync::Arc;

/// `si_code`s of signals sent by a process: `kill`, `sigqueue`, `tgkill`.
const SI_USER: i32 = 0;
const SI_QUEUE: i32 = -1;
const SI_TKILL: i32 = -6;
/// `SEND_SIG_PRIV`: the kernel's own signals carry no siginfo pointer but 1.
const SEND_SIG_PRIV: usize = 1;

/// The kprobe and what its handler needs; `kprobe` first so that the
/// handler can find the rest from the pointer it is given.
#[repr(C)]
struct Probe {
    kprobe: bindings::kprobe,
    registry: Arc<Registry>,
}

/// The registered kprobe; unregistered when dropped.
pub(crate) struct Trigger {
    probe: KBox<Probe>,
}

// SAFETY: the probe is only touched by the kprobe core and in `drop`.
unsafe impl Send for Trigger {}
// SAFETY: `Trigger` has no methods taking `&self`.
unsafe impl Sync for Trigger {}

/// Where a skipped `send_signal_locked()` continues: it returns 0 to its
/// caller, as if the signal had been sent.
extern "C" fn signal_sent() -> c_int {
    0
}

/// Whether the signal comes from a process (`kill` and friends) rather than
/// from the kernel itself (faults, timers, the terminal), whose signals
/// must reach the application even when that number is registered.
///
/// # Safety
///
/// `info` is the siginfo argument of `send_signal_locked()`.
unsafe fn sent_by_a_process(info: usize) -> bool {
    if info <= SEND_SIG_PRIV {
        return false;
    }
    let info = info as *const bindings::kernel_siginfo;
    // SAFETY: beyond the two special values, `info` points to a live siginfo.
    let code = unsafe { (*info).__bindgen_anon_1.si_code };
    matches!(code, SI_USER | SI_QUEUE | SI_TKILL)
}

/// The kprobe pre-handler. Returning 1 tells the kprobe core that we moved
/// the instruction pointer.
///
/// # Safety
///
/// Called by the kprobe core only, at the entry of `send_signal_locked()`,
/// with our probe and that function's registers.
unsafe extern "C" fn on_send_signal(
    p: *mut bindings::kprobe,
    regs: *mut bindings::pt_regs,
) -> c_int {
    // SAFETY: `p` is the first field of a `Probe`, alive while registered.
    let probe = unsafe { &*p.cast::<Probe>() };
    // SAFETY: the registers of the probed call, ours to read and change.
    let regs = unsafe { &mut *regs };
    // send_signal_locked(int sig, struct kernel_siginfo *info,
    //                    struct task_struct *t, enum pid_type type)
    let signal = regs.di as u32;
    let target = regs.dx as *mut bindings::task_struct;
    // SAFETY: `si` is the siginfo argument.
    if !unsafe { sent_by_a_process(regs.si) } {
        return 0;
    }
    match probe.registry.claim(target, signal) {
        Claim::No => return 0,
        Claim::Pending => {}
        Claim::Start => {
            if !checkpoint::queue(target, &probe.registry) {
                probe.registry.finish(target, None);
                return 0;
            }
        }
    }
    regs.ax = 0;
    regs.ip = signal_sent as *const () as usize;
    1
}

impl Trigger {
    pub(crate) fn start(registry: Arc<Registry>) -> Result<Self> {
        // SAFETY: all-zero is the documented initial state of a kprobe.
        let mut kprobe: bindings::kprobe = unsafe { core::mem::zeroed() };
        kprobe.symbol_name = kernel::c_str!("send_signal_locked").as_char_ptr();
        kprobe.pre_handler = Some(on_send_signal);
        let mut probe = KBox::new(Probe { kprobe, registry }, GFP_KERNEL)?;
        // SAFETY: the probe lives in a box that `Self` keeps until it
        // unregisters it; the handler matches the kprobe prototype.
        let ret = unsafe { bindings::register_kprobe(&mut probe.kprobe) };
        if ret != 0 {
            pr_err!("cannot probe send_signal_locked(): error {}\n", ret);
            return Err(Error::from_errno(ret));
        }
        let trigger = Trigger { probe };
        if trigger.probe.kprobe.flags & bindings::KPROBE_FLAG_FTRACE == 0 {
            // An int3 kprobe runs as NMI: no locks, no allocation.
            pr_err!("needs CONFIG_KPROBES_ON_FTRACE: kprobes through int3 run in NMI context\n");
            return Err(ENODEV);
        }
        Ok(trigger)
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        // Waits for running handlers. Checkpoints already queued hold a
        // module reference, so the module cannot go before they have run.
        // SAFETY: registered in `start`.
        unsafe { bindings::unregister_kprobe(&mut self.probe.kprobe) };
    }
}
