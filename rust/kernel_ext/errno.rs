// SPDX-License-Identifier: GPL-2.0

//! Error codes the `kernel` crate of 6.12 has no constant for, named as
//! `kernel::error::code` names its own.

#![allow(non_snake_case)]

use crate::kernel_ext::bindings;
use kernel::error::Error;

/// The error of code `code` (`bindings::E*`, positive).
pub(crate) fn errno(code: u32) -> Error {
    Error::from_errno(-(code as i32))
}

/// Operation not supported.
pub(crate) fn EOPNOTSUPP() -> Error {
    errno(bindings::EOPNOTSUPP)
}

/// Timed out.
pub(crate) fn ETIMEDOUT() -> Error {
    errno(bindings::ETIMEDOUT)
}

/// Quota exceeded.
pub(crate) fn EDQUOT() -> Error {
    errno(bindings::EDQUOT)
}

/// File name too long.
pub(crate) fn ENAMETOOLONG() -> Error {
    errno(bindings::ENAMETOOLONG)
}

/// Cannot assign the requested address.
pub(crate) fn EADDRNOTAVAIL() -> Error {
    errno(bindings::EADDRNOTAVAIL)
}
