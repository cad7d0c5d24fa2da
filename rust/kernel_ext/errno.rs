// SPDX-License-Identifier: GPL-2.0

//! Error codes the `kernel` crate of 6.12 has no constant for.

use kernel::error::Error;

/// The error of code `code` (`bindings::E*`, positive).
pub(crate) fn errno(code: u32) -> Error {
    Error::from_errno(-(code as i32))
}
