// SPDX-License-Identifier: GPL-2.0

//! The capabilities ld-chpox keeps while it builds a tree for someone else.
//!
//! Giving the processes their original pids (`clone3()` with `set_tid`)
//! needs CAP_CHECKPOINT_RESTORE, also after ld-chpox has taken the dump
//! owner's ids. That one capability stays in the permitted set, but is
//! effective only around each such `clone3()`: with it effective, paths a
//! crafted dump names (`/proc/1/map_files/...`) would open with rights the
//! owner lacks. Each process gives up the permitted set too before it is
//! restored, once it has forked its children. nix has no `capset()`, hence
//! the raw system calls.

use super::raw;
use super::Error;
use nix::libc;

pub(crate) const CAP_SETGID: u32 = 6;
pub(crate) const CAP_SETUID: u32 = 7;
pub(crate) const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, in two 32-bit halves.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The bit of capability `cap` in a set.
pub(crate) const fn bit(cap: u32) -> u64 {
    1 << cap
}

/// This thread's effective and permitted sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sets {
    pub(crate) effective: u64,
    pub(crate) permitted: u64,
}

impl Sets {
    pub(crate) fn has_effective(&self, cap: u32) -> bool {
        self.effective & bit(cap) != 0
    }
}

pub(crate) fn current() -> Result<Sets, Error> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget() fills the two elements of `data` for version 3.
    raw(
        unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) },
        "capget",
    )?;
    let join = |f: fn(&Data) -> u32| u64::from(f(&data[0])) | u64::from(f(&data[1])) << 32;
    Ok(Sets {
        effective: join(|d| d.effective),
        permitted: join(|d| d.permitted),
    })
}

/// Sets this thread's sets; the inheritable set (and with it the ambient
/// one) is always emptied: nothing ld-chpox holds may pass an `execve()`.
fn set(sets: Sets) -> Result<(), Error> {
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let half = |set: u64, i: usize| (set >> (32 * i)) as u32;
    let data: [Data; 2] = core::array::from_fn(|i| Data {
        effective: half(sets.effective, i),
        permitted: half(sets.permitted, i),
        inheritable: 0,
    });
    // SAFETY: capset() reads the two elements of `data` for version 3.
    raw(
        unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) },
        "capset",
    )?;
    Ok(())
}

/// The arguments of a `capset()` that empties every set: how a thread
/// started to become a dumped thread, which runs no Rust ([`super::threads`]),
/// gives up what it inherited.
#[repr(C)]
pub(crate) struct NoCapabilities {
    header: Header,
    data: [Data; 2],
}

impl NoCapabilities {
    pub(crate) fn new() -> Self {
        NoCapabilities {
            header: Header {
                version: VERSION_3,
                pid: 0,
            },
            data: [Data::default(); 2],
        }
    }

    /// `capset()`'s two arguments: the header (which the kernel may write
    /// its version into) and the two halves of the sets.
    pub(crate) fn args(&mut self) -> [u64; 2] {
        [
            &mut self.header as *mut Header as u64,
            self.data.as_ptr() as u64,
        ]
    }
}

/// What ld-chpox (and each process it forks, until restored) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Everything ld-chpox was started with: the dump is root's.
    All,
    /// Only these permitted capabilities, none effective but while one is
    /// raised.
    Only(u64),
}

impl Kept {
    /// Keeps only the `wanted` capabilities that are permitted now, none of
    /// them effective.
    pub(crate) fn confine(wanted: u64) -> Result<Kept, Error> {
        let now = current()?;
        let kept = Sets {
            effective: 0,
            permitted: now.permitted & wanted,
        };
        if now != kept {
            set(kept)?;
        }
        Ok(Kept::Only(kept.permitted))
    }

    /// Makes `cap` effective, if it is kept; false if it is not.
    pub(crate) fn raise(self, cap: u32) -> Result<bool, Error> {
        match self {
            Kept::All => Ok(true),
            Kept::Only(permitted) if permitted & bit(cap) != 0 => {
                set(Sets {
                    effective: bit(cap),
                    permitted,
                })?;
                Ok(true)
            }
            Kept::Only(_) => Ok(false),
        }
    }

    /// Makes nothing effective again after [`Kept::raise`].
    pub(crate) fn lower(self) -> Result<(), Error> {
        match self {
            Kept::All => Ok(()),
            Kept::Only(permitted) => set(Sets {
                effective: 0,
                permitted,
            }),
        }
    }

    /// Gives up every capability for good, and the right to keep them
    /// across a change of uid: the process is about to become the owner's
    /// program (and the module refuses a restore for a non-root owner by a
    /// writer with any capability).
    pub(crate) fn give_up(self) -> Result<(), Error> {
        if self == Kept::All {
            return Ok(());
        }
        let none = Sets {
            effective: 0,
            permitted: 0,
        };
        set(none)?;
        nix::sys::prctl::set_keepcaps(false)
            .map_err(|e| format!("prctl(PR_SET_KEEPCAPS, 0): {e}"))?;
        if current()? != none {
            return Err("capabilities remain after giving them all up".into());
        }
        Ok(())
    }
}
