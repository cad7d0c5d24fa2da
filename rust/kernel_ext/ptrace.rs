// SPDX-License-Identifier: GPL-2.0

//! The kernel's ptrace-attach check, which is not exported: asked by
//! opening `/proc/NR/mem`, whose open makes exactly that check
//! (`ptrace_may_access(PTRACE_MODE_ATTACH_FSCREDS)`, security modules and
//! Yama's scope included).

use crate::kernel_ext::cred::{Credential, CredentialOverride};
use crate::kernel_ext::file::{flags, File};

/// Whether `who` may ptrace-attach to the process numbered `nr` in the
/// current task's pid namespace.
pub(crate) fn may_attach(who: &Credential, nr: i32) -> bool {
    let mut path = [0u8; 32];
    let mut w = PathWriter::new(&mut path);
    w.push(b"/proc/");
    w.push_decimal(nr);
    w.push(b"/mem");
    let len = w.len;
    let _creds = CredentialOverride::new(who);
    // The file, if opened, is closed right away.
    File::open(&path[..len], flags::O_RDONLY).is_ok()
}

/// Writes a short path into a fixed buffer, cutting what does not fit.
struct PathWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> PathWriter<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        PathWriter { buf, len: 0 }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn push_decimal(&mut self, n: i32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = n.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}
