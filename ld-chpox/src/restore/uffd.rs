// SPDX-License-Identifier: GPL-2.0

//! A thin typed layer over userfaultfd(2) (`linux/userfaultfd.h`), which
//! neither nix nor libc wraps: opening one, registering ranges, filling
//! pages, and the messages it reads.

use super::{raw, Error};
use nix::errno::Errno;
use nix::libc;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const UFFD_API: u64 = 0xaa;
/// The events the page server follows so that it never fills memory the
/// program has since moved, dropped or forked.
const FEATURE_EVENT_FORK: u64 = 1 << 1;
const FEATURE_EVENT_REMAP: u64 = 1 << 2;
const FEATURE_EVENT_REMOVE: u64 = 1 << 3;
const FEATURE_EVENT_UNMAP: u64 = 1 << 6;
const REGISTER_MODE_MISSING: u64 = 1;

const EVENT_PAGEFAULT: u8 = 0x12;
const EVENT_FORK: u8 = 0x13;
const EVENT_REMAP: u8 = 0x14;
const EVENT_REMOVE: u8 = 0x15;
const EVENT_UNMAP: u8 = 0x16;

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioCopy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

#[repr(C)]
struct UffdioZeropage {
    range: UffdioRange,
    mode: u64,
    zeropage: i64,
}

/// `struct uffd_msg`: the event and its 24 bytes of arguments.
#[repr(C)]
struct UffdMsg {
    event: u8,
    reserved: [u8; 7],
    arg: [u64; 3],
}

nix::ioctl_readwrite!(uffdio_api, 0xaa, 0x3f, UffdioApi);
nix::ioctl_readwrite!(uffdio_register, 0xaa, 0x00, UffdioRegister);
nix::ioctl_read!(uffdio_wake, 0xaa, 0x02, UffdioRange);
nix::ioctl_readwrite!(uffdio_copy, 0xaa, 0x03, UffdioCopy);
nix::ioctl_readwrite!(uffdio_zeropage, 0xaa, 0x04, UffdioZeropage);

/// What a userfaultfd reports.
pub(crate) enum Event {
    /// A thread waits for the missing page at this address.
    PageFault(u64),
    /// The process forked: the child's memory has its own userfaultfd.
    Fork(Userfault),
    /// `len` bytes moved from `from` to `to` (mremap).
    Remap { from: u64, to: u64, len: u64 },
    /// The range was dropped (madvise) or unmapped: it is no longer to be
    /// filled.
    Gone { start: u64, end: u64 },
}

/// What [`Userfault::copy`] did.
pub(crate) enum Copied {
    /// Every page.
    All,
    /// This many bytes (at least a page), not the rest.
    Part(u64),
    /// Nothing: the first page is there already.
    FirstThere,
}

/// A userfaultfd: the memory registered with it is filled by its reader.
pub(crate) struct Userfault(OwnedFd);

impl Userfault {
    /// Opens one for the current process's memory, following forks,
    /// moves and removals, non-blocking. Faults taken in the kernel (a
    /// `read()` into memory not filled yet) wait for it too, and following
    /// forks hands over the child's memory: both need CAP_SYS_PTRACE.
    pub(crate) fn open() -> Result<Self, Error> {
        let flags = libc::O_CLOEXEC | libc::O_NONBLOCK;
        // SAFETY: userfaultfd(2) takes flags and returns a new descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, flags) };
        let fd = raw(fd, "userfaultfd")?;
        // SAFETY: it was just made and nothing else owns it.
        let uffd = Userfault(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        let mut api = UffdioApi {
            api: UFFD_API,
            features: FEATURE_EVENT_FORK
                | FEATURE_EVENT_REMAP
                | FEATURE_EVENT_REMOVE
                | FEATURE_EVENT_UNMAP,
            ioctls: 0,
        };
        // SAFETY: the argument is a valid uffdio_api.
        unsafe { uffdio_api(uffd.fd(), &mut api) }
            .map_err(|e| Error::sys("userfaultfd (UFFDIO_API)", e))?;
        Ok(uffd)
    }

    /// Takes the descriptor of one received from another process.
    pub(crate) fn from_owned(fd: OwnedFd) -> Self {
        Userfault(fd)
    }

    pub(crate) fn as_owned(&self) -> &OwnedFd {
        &self.0
    }

    fn fd(&self) -> i32 {
        self.0.as_raw_fd()
    }

    /// Registers `start..end` for missing-page faults.
    pub(crate) fn register(&self, start: u64, end: u64) -> nix::Result<()> {
        let mut r = UffdioRegister {
            range: UffdioRange {
                start,
                len: end - start,
            },
            mode: REGISTER_MODE_MISSING,
            ioctls: 0,
        };
        // SAFETY: the argument is a valid uffdio_register.
        unsafe { uffdio_register(self.fd(), &mut r) }.map(drop)
    }

    /// Copies `pages` (whole pages) to `dst` and wakes whoever waits there.
    pub(crate) fn copy(&self, dst: u64, pages: &[u8]) -> nix::Result<Copied> {
        let mut c = UffdioCopy {
            dst,
            src: pages.as_ptr() as u64,
            len: pages.len() as u64,
            mode: 0,
            copy: 0,
        };
        // SAFETY: the argument is a valid uffdio_copy whose source is
        // `pages`, readable for its length.
        match unsafe { uffdio_copy(self.fd(), &mut c) } {
            Ok(_) => Ok(Copied::All),
            Err(Errno::EEXIST) => Ok(Copied::FirstThere),
            // Stopped at a page that failed: the caller tries again there.
            Err(Errno::EAGAIN) if c.copy > 0 => Ok(Copied::Part(c.copy as u64)),
            Err(e) => Err(e),
        }
    }

    /// Maps the zero page at `addr` (a page the dump has none of) and wakes
    /// whoever waits there.
    pub(crate) fn zero(&self, addr: u64, len: u64) -> nix::Result<()> {
        let mut z = UffdioZeropage {
            range: UffdioRange { start: addr, len },
            mode: 0,
            zeropage: 0,
        };
        // SAFETY: the argument is a valid uffdio_zeropage.
        match unsafe { uffdio_zeropage(self.fd(), &mut z) } {
            Ok(_) | Err(Errno::EEXIST) => self.wake(addr, len),
            Err(e) => Err(e),
        }
    }

    /// Wakes whoever waits for a page of `addr..addr+len` that is there.
    pub(crate) fn wake(&self, addr: u64, len: u64) -> nix::Result<()> {
        let mut r = UffdioRange { start: addr, len };
        // SAFETY: the argument is a valid uffdio_range.
        unsafe { uffdio_wake(self.fd(), &mut r) }.map(drop)
    }

    /// The next event, if one is waiting.
    pub(crate) fn next_event(&self) -> nix::Result<Option<Event>> {
        let mut msg = std::mem::MaybeUninit::<UffdMsg>::zeroed();
        let size = std::mem::size_of::<UffdMsg>();
        // SAFETY: reads at most `size` bytes into `msg`.
        let n = unsafe { libc::read(self.fd(), msg.as_mut_ptr().cast(), size) };
        if n < 0 {
            return match Errno::last() {
                Errno::EAGAIN => Ok(None),
                e => Err(e),
            };
        }
        if n as usize != size {
            return Err(Errno::EIO);
        }
        // SAFETY: zeroed, then filled by the kernel: any bytes are valid.
        let msg = unsafe { msg.assume_init() };
        let [a, b, c] = msg.arg;
        Ok(Some(match msg.event {
            // arg: flags, address, thread id.
            EVENT_PAGEFAULT => Event::PageFault(b),
            // SAFETY: the kernel installed this descriptor for this message
            // alone, which is read once.
            EVENT_FORK => Event::Fork(Userfault(unsafe { OwnedFd::from_raw_fd(a as u32 as i32) })),
            EVENT_REMAP => Event::Remap {
                from: a,
                to: b,
                len: c,
            },
            EVENT_REMOVE | EVENT_UNMAP => Event::Gone { start: a, end: b },
            _ => return Err(Errno::EIO),
        }))
    }
}
