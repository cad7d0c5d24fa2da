// SPDX-License-Identifier: GPL-2.0

//! The start line: no process of the tree becomes its dumped self before
//! every one of them is ready, so that a failure in any leaves the whole
//! tree unrestored. Each process writes `R` (or `E`, a message and a
//! newline) to the ready pipe; ld-chpox answers with one `G` each on the go
//! pipe, or closes it to call the restore off.

use super::{dup_high, raw};
use nix::libc;
use std::io::Read;
use std::os::fd::FromRawFd;

pub(crate) struct Barrier {
    ready: [i32; 2],
    go: [i32; 2],
    /// In a process of the tree: it has been let go.
    passed: std::cell::Cell<bool>,
}

fn pipe_high(base: i32) -> Result<[i32; 2], String> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2() fills the two-element array.
    raw(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }.into(),
        "pipe",
    )?;
    let high = [dup_high(fds[0], base)?, dup_high(fds[1], base)?];
    // SAFETY: the low copies are ours.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    Ok(high)
}

fn close(fd: i32) {
    if fd >= 0 {
        // SAFETY: closing a descriptor of ours.
        unsafe { libc::close(fd) };
    }
}

impl Barrier {
    pub(crate) fn new(base: i32) -> Result<Self, String> {
        Ok(Barrier {
            ready: pipe_high(base)?,
            go: pipe_high(base)?,
            passed: std::cell::Cell::new(false),
        })
    }

    /// The descriptors a process of the tree keeps until it is restored.
    pub(crate) fn member_fds(&self) -> [i32; 2] {
        [self.ready[1], self.go[0]]
    }

    /// In ld-chpox, after the first fork.
    pub(crate) fn close_member_ends(&self) {
        close(self.ready[1]);
        close(self.go[0]);
    }

    /// In ld-chpox: waits until `n` processes are ready, or one fails.
    pub(crate) fn wait_ready(&self, n: usize) -> Result<(), String> {
        // SAFETY: we own the read end; ManuallyDrop keeps it open for Drop.
        let mut reader =
            std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(self.ready[0]) });
        let mut ready = 0;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while ready < n {
            let got = match reader.read(&mut chunk) {
                Ok(0) => {
                    return Err("a process of the tree ended before it was ready".into());
                }
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("barrier: {e}")),
            };
            buf.extend_from_slice(&chunk[..got]);
            while let Some(&first) = buf.first() {
                match first {
                    b'R' => {
                        ready += 1;
                        buf.remove(0);
                    }
                    b'E' => match buf.iter().position(|&b| b == b'\n') {
                        Some(end) => return Err(String::from_utf8_lossy(&buf[1..end]).into()),
                        None => break,
                    },
                    _ => return Err("barrier: garbled report".into()),
                }
            }
        }
        Ok(())
    }

    /// In ld-chpox: lets the `n` processes go.
    pub(crate) fn go(&self, n: usize) -> Result<(), String> {
        let gs = vec![b'G'; n];
        // SAFETY: writes our buffer to our pipe (n is far below its size).
        let written = unsafe { libc::write(self.go[1], gs.as_ptr().cast(), n) };
        if written != n as isize {
            return Err("barrier: cannot release the tree".into());
        }
        Ok(())
    }

    /// In a process of the tree: whether it has been let go, so that a
    /// failure now is its own to report.
    pub(crate) fn passed(&self) -> bool {
        self.passed.get()
    }

    /// In a process of the tree: reports ready (or why not) and waits for
    /// the go. Returns whether to go on; the barrier's descriptors are
    /// closed either way.
    pub(crate) fn ready_and_wait(&self, outcome: Result<(), String>) -> bool {
        let report = match &outcome {
            Ok(()) => b"R".to_vec(),
            Err(e) => format!("E{}\n", e.replace('\n', " ")).into_bytes(),
        };
        // SAFETY: one write (below PIPE_BUF for any sane message, so never
        // interleaved with another process's).
        unsafe { libc::write(self.ready[1], report.as_ptr().cast(), report.len()) };
        close(self.ready[1]);
        let mut byte = 0u8;
        let go = outcome.is_ok()
            && {
                // SAFETY: reads one byte into `byte`.
                unsafe { libc::read(self.go[0], (&raw mut byte).cast(), 1) == 1 }
            }
            && byte == b'G';
        close(self.go[0]);
        self.passed.set(go);
        go
    }
}

impl Drop for Barrier {
    fn drop(&mut self) {
        // Only ever dropped in ld-chpox itself.
        close(self.ready[0]);
        close(self.go[1]);
    }
}
