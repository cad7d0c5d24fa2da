// SPDX-License-Identifier: GPL-2.0

//! Facts about the running kernel and its clocks.

use crate::kernel_ext::bindings;

/// The release of the running kernel (`uname -r`).
pub(crate) fn kernel_release() -> &'static [u8] {
    // SAFETY: the release is a static NUL-terminated string.
    unsafe { kernel::str::CStr::from_char_ptr(bindings::chpox_kernel_release()) }.as_bytes()
}

/// Wall-clock time: seconds and nanoseconds since the epoch.
pub(crate) fn wall_clock() -> (u64, u32) {
    let mut ts = bindings::timespec64::default();
    // SAFETY: `ts` is writable; the call fills it.
    unsafe { bindings::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CLOCK_MONOTONIC in nanoseconds, as the kernel sees it.
pub(crate) fn monotonic_ns() -> u64 {
    // SAFETY: a plain clock read.
    unsafe { bindings::ktime_get() as u64 }
}

/// The current time of `clockid` (CLOCK_REALTIME, CLOCK_MONOTONIC or
/// CLOCK_BOOTTIME) in nanoseconds, as the kernel sees it.
pub(crate) fn clock_ns(clockid: i32) -> Option<u64> {
    let offset = match clockid {
        0 => bindings::tk_offsets_TK_OFFS_REAL,
        1 => return Some(monotonic_ns()),
        7 => bindings::tk_offsets_TK_OFFS_BOOT,
        _ => return None,
    };
    // SAFETY: a plain clock read.
    Some(unsafe { bindings::ktime_get_with_offset(offset) } as u64)
}

/// CLOCK_MONOTONIC and CLOCK_BOOTTIME in nanoseconds as the current task
/// sees them: its time namespace's offsets included.
pub(crate) fn current_task_clocks() -> (u64, u64) {
    let mut monotonic = bindings::timespec64::default();
    // SAFETY: `monotonic` is writable; the calls fill it and add current's
    // time namespace offset.
    unsafe {
        bindings::ktime_get_ts64(&mut monotonic);
        bindings::chpox_timens_add_monotonic(&mut monotonic);
    }
    let mut boottime = bindings::timespec64::default();
    // SAFETY: as above, for the boot clock.
    unsafe {
        bindings::chpox_ktime_get_boottime_ts64(&mut boottime);
        bindings::chpox_timens_add_boottime(&mut boottime);
    }
    (nanoseconds(&monotonic), nanoseconds(&boottime))
}

fn nanoseconds(ts: &bindings::timespec64) -> u64 {
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}
