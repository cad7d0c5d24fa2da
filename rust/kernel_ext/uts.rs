// SPDX-License-Identifier: GPL-2.0

//! The running kernel's identity.

use crate::kernel_ext::bindings;

/// The kernel release (`uname -r`).
pub(crate) fn release() -> &'static [u8] {
    // SAFETY: the release is a NUL-terminated string that never changes
    // while the kernel runs.
    unsafe { kernel::str::CStr::from_char_ptr(bindings::chpox_kernel_release()) }.as_bytes()
}
