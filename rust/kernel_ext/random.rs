// SPDX-License-Identifier: GPL-2.0

//! The kernel's random number generator.

use crate::kernel_ext::bindings;

/// A random `u32` (`get_random_u32()`), unpredictable to user space.
pub(crate) fn u32() -> u32 {
    // SAFETY: a plain call into the random number generator.
    unsafe { bindings::get_random_u32() }
}
