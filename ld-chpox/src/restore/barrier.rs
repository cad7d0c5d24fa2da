// SPDX-License-Identifier: GPL-2.0

//! The start line: no process of the tree becomes its dumped self before
//! every one of them is ready, so that a failure in any leaves the whole
//! tree unrestored. Each process writes `R` (or `E`, a message and a
//! newline) to the ready pipe; ld-chpox answers with one `G` each on the go
//! pipe, or closes it to call the restore off.

use super::Error;
use super::{dup_high, sys};
use nix::fcntl::OFlag;
use nix::unistd::{pipe2, read, write};
use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// One end of a barrier pipe, closed by taking it out.
type End = RefCell<Option<OwnedFd>>;

pub(crate) struct Barrier {
    /// Read end (ld-chpox), write end (the processes of the tree).
    ready: [End; 2],
    /// Read end (the processes of the tree), write end (ld-chpox).
    go: [End; 2],
    /// In a process of the tree: it has been let go.
    passed: Cell<bool>,
}

fn pipe_high(base: RawFd) -> Result<[End; 2], Error> {
    // The low descriptors pipe2() returns are closed as they go out of scope.
    let (r, w) = sys(pipe2(OFlag::O_CLOEXEC), "pipe")?;
    Ok([
        RefCell::new(Some(dup_high(r.as_fd(), base)?)),
        RefCell::new(Some(dup_high(w.as_fd(), base)?)),
    ])
}

/// The number of `end`, -1 once closed.
fn raw_of(end: &End) -> RawFd {
    end.borrow().as_ref().map_or(-1, |fd| fd.as_raw_fd())
}

fn close(end: &End) {
    end.borrow_mut().take();
}

impl Barrier {
    pub(crate) fn new(base: RawFd) -> Result<Self, Error> {
        Ok(Barrier {
            ready: pipe_high(base)?,
            go: pipe_high(base)?,
            passed: Cell::new(false),
        })
    }

    /// The descriptors a process of the tree keeps until it is restored.
    pub(crate) fn member_fds(&self) -> [RawFd; 2] {
        [raw_of(&self.ready[1]), raw_of(&self.go[0])]
    }

    /// In ld-chpox, after the first fork.
    pub(crate) fn close_member_ends(&self) {
        close(&self.ready[1]);
        close(&self.go[0]);
    }

    /// In ld-chpox: waits until `n` processes are ready, or one fails.
    pub(crate) fn wait_ready(&self, n: usize) -> Result<(), Error> {
        let reader = self.ready[0].borrow();
        let reader = reader.as_ref().ok_or("barrier: closed")?;
        let mut ready = 0;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while ready < n {
            let got = match read(reader.as_raw_fd(), &mut chunk) {
                Ok(0) => {
                    return Err("a process of the tree ended before it was ready".into());
                }
                Ok(k) => k,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("barrier", e)),
            };
            buf.extend_from_slice(&chunk[..got]);
            while let Some(&first) = buf.first() {
                match first {
                    b'R' => {
                        ready += 1;
                        buf.remove(0);
                    }
                    b'E' => match buf.iter().position(|&b| b == b'\n') {
                        Some(end) => {
                            let why = String::from_utf8_lossy(&buf[1..end]);
                            return Err(Error::Other(why.into_owned()));
                        }
                        None => break,
                    },
                    _ => return Err("barrier: garbled report".into()),
                }
            }
        }
        Ok(())
    }

    /// In ld-chpox: lets the `n` processes go.
    pub(crate) fn go(&self, n: usize) -> Result<(), Error> {
        let gs = vec![b'G'; n];
        // One write: n is far below the pipe's size.
        let written = match self.go[1].borrow().as_ref() {
            Some(fd) => write(fd, &gs).ok(),
            None => None,
        };
        if written != Some(n) {
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
    pub(crate) fn ready_and_wait(&self, outcome: Result<(), Error>) -> bool {
        let report = match &outcome {
            Ok(()) => b"R".to_vec(),
            Err(e) => format!("E{}\n", e.to_string().replace('\n', " ")).into_bytes(),
        };
        // One write (below PIPE_BUF for any sane message, so never
        // interleaved with another process's).
        if let Some(fd) = self.ready[1].borrow().as_ref() {
            let _ = write(fd, &report);
        }
        close(&self.ready[1]);
        let mut byte = [0u8];
        let go =
            outcome.is_ok() && read(raw_of(&self.go[0]), &mut byte) == Ok(1) && byte[0] == b'G';
        close(&self.go[0]);
        self.passed.set(go);
        go
    }
}
