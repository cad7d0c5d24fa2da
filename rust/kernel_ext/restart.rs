// SPDX-License-Identifier: GPL-2.0

//! Sleeps that go on after restore with the time they had left. A relative
//! `nanosleep()` or `clock_nanosleep()` interrupted by the checkpoint is
//! continued by the kernel through `restart_syscall`, which calls the
//! task's restart block: `hrtimer_nanosleep_restart()` with the absolute
//! expiry. The dump keeps the time that was left; the restore sets up the
//! same restart block with a new expiry, so the restored copy sleeps what
//! the original would have. The function is static in the kernel: its
//! address is looked up once at load through a kprobe on its name. If that
//! fails, a restored copy re-executes the call with its original
//! arguments (a full sleep again).

use crate::abi::dump::SleepRestart;
use crate::kernel_ext::bindings;
use crate::kernel_ext::system::clock_ns;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;

/// `-ERESTART*` values a system call interrupted by our task work returns.
pub(crate) const ERESTARTSYS: i64 = -512;
pub(crate) const ERESTARTNOINTR: i64 = -513;
pub(crate) const ERESTARTNOHAND: i64 = -514;
pub(crate) const ERESTART_RESTARTBLOCK: i64 = -516;

/// Address of `hrtimer_nanosleep_restart()`, 0 if unknown.
static NANOSLEEP_RESTART: AtomicUsize = AtomicUsize::new(0);

/// Looks the address up, by registering (and at once unregistering) a
/// kprobe on the function's name.
pub(crate) fn resolve() {
    // SAFETY: all-zero is the documented initial state of a kprobe.
    let mut probe: bindings::kprobe = unsafe { core::mem::zeroed() };
    probe.symbol_name = kernel::c_str!("hrtimer_nanosleep_restart").as_char_ptr();
    // SAFETY: a probe without handlers, registered and unregistered here.
    if unsafe { bindings::register_kprobe(&mut probe) } < 0 {
        pr_info!("sleeps restart from the start: hrtimer_nanosleep_restart not found\n");
        return;
    }
    let addr = function_start(probe.addr as usize);
    // SAFETY: registered just above.
    unsafe { bindings::unregister_kprobe(&mut probe) };
    NANOSLEEP_RESTART.store(addr, Ordering::Relaxed);
}

/// `endbr64`, which starts every indirectly called function of a kernel
/// built with Intel IBT.
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// The start of the function a kprobe on its name was put at: with IBT the
/// kprobe goes after the `endbr64`, but a restart block must hold the
/// function's own address (or a call through it would fault on IBT).
fn function_start(probed: usize) -> usize {
    if !cfg!(CONFIG_X86_KERNEL_IBT) {
        return probed;
    }
    let Some(before) = probed.checked_sub(ENDBR64.len()) else {
        return probed;
    };
    // SAFETY: the four bytes before a probed function entry are kernel
    // text: the function's `endbr64`, or the padding before the function.
    let bytes = unsafe { core::ptr::read_unaligned(before as *const [u8; 4]) };
    if bytes == ENDBR64 {
        before
    } else {
        probed
    }
}

/// The sleep the current task is in, if its restart block holds one.
pub(crate) fn saved_sleep() -> Option<SleepRestart> {
    let restart_fn = NANOSLEEP_RESTART.load(Ordering::Relaxed);
    // SAFETY: the current task's restart block, which only it changes.
    let block = unsafe { &(*bindings::get_current()).restart_block };
    if restart_fn == 0 || block.fn_.map(|f| f as usize) != Some(restart_fn) {
        return None;
    }
    // SAFETY: `fn_` says the union holds the nanosleep variant.
    let sleep = unsafe { block.__bindgen_anon_1.nanosleep };
    // TT_NONE: a sleep that reports no remaining time (`rmtp` NULL, as
    // glibc's sleep() and most callers pass it); TT_COMPAT: a 32-bit
    // caller, which chpox does not checkpoint.
    let rmtp = match sleep.type_ {
        bindings::timespec_type_TT_NONE => 0,
        // SAFETY: TT_NATIVE: the native pointer of the union.
        bindings::timespec_type_TT_NATIVE => (unsafe { sleep.__bindgen_anon_1.rmtp }) as u64,
        _ => return None,
    };
    let now = clock_ns(sleep.clockid)?;
    Some(SleepRestart {
        clockid: sleep.clockid,
        rmtp,
        remaining_ns: sleep.expires.saturating_sub(now),
    })
}

/// Sets the current task up to continue `sleep` through `restart_syscall`.
/// Returns false if it cannot (the function is unknown).
pub(crate) fn resume_sleep(sleep: &SleepRestart) -> bool {
    let restart_fn = NANOSLEEP_RESTART.load(Ordering::Relaxed);
    let Some(now) = clock_ns(sleep.clockid) else {
        return false;
    };
    if restart_fn == 0 {
        return false;
    }
    // SAFETY: the address is that of hrtimer_nanosleep_restart(), whose
    // type this is (found by name at load).
    let f: unsafe extern "C" fn(*mut bindings::restart_block) -> kernel::ffi::c_long =
        unsafe { core::mem::transmute(restart_fn) };
    // SAFETY: the current task's restart block, which only it uses.
    unsafe {
        let block = &mut (*bindings::get_current()).restart_block;
        let n = &mut block.__bindgen_anon_1.nanosleep;
        n.clockid = sleep.clockid;
        n.type_ = if sleep.rmtp == 0 {
            bindings::timespec_type_TT_NONE
        } else {
            bindings::timespec_type_TT_NATIVE
        };
        n.__bindgen_anon_1.rmtp = sleep.rmtp as *mut bindings::__kernel_timespec;
        n.expires = now.saturating_add(sleep.remaining_ns);
        block.fn_ = Some(f);
    }
    true
}
