// SPDX-License-Identifier: GPL-2.0

//! `struct file` as the memory code sees it: the file behind a mapping,
//! its page cache, its name and stamp, and writes to it.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::bindings;
use core::ptr::NonNull;
use kernel::error::{from_err_ptr, Error, Result};
use kernel::prelude::*;
use kernel::types::{AlwaysRefCounted, Opaque};

/// `open()` flags for files opened to be mapped.
pub(crate) const O_RDONLY: u32 = bindings::O_RDONLY;
/// See [`O_RDONLY`].
pub(crate) const O_RDWR: u32 = bindings::O_RDWR;

/// An open file.
///
/// # Invariants
///
/// The wrapped `struct file` is live: whoever hands out a `&File` holds a
/// reference to it (an area mapping it, an `ARef<File>`, an open file) for
/// at least as long as the borrow.
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

// SAFETY: `get_file()` and `fput()` may be called from any task, and a file
// is only freed by the last `fput()`.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: the file is live by the type invariant.
        unsafe { bindings::chpox_get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up a reference it owns.
        unsafe { bindings::fput(obj.cast().as_ptr()) }
    }
}

impl File {
    /// Borrows the file `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` points to a live file the caller holds a reference to for at
    /// least `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a File {
        // INVARIANT: the caller holds a reference for `'a`.
        // SAFETY: `File` is a transparent wrapper of `struct file`; the
        // pointer is valid for `'a` by the caller's guarantee.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// Whether it is shared memory with no name left: MAP_SHARED|MAP_ANONYMOUS
    /// memory, a memfd, a deleted tmpfs file, a SysV segment. Reopening it by
    /// path is impossible, so its contents go into the dump.
    pub(crate) fn is_nameless_shmem(&self) -> bool {
        let file = self.as_ptr();
        // SAFETY: the file is live; shmem_file() only reads its operations.
        if !unsafe { bindings::chpox_shmem_file(file) } {
            return false;
        }
        // SAFETY: a live file's inode lives as long as the file; the link
        // count is a plain word (a stale value is what the C code reads too).
        unsafe { (*(*file).f_inode).__bindgen_anon_1.i_nlink == 0 }
    }

    /// Whether the page at `index` (in pages) is in the file's page cache;
    /// never reads or allocates one.
    pub(crate) fn has_cached_page(&self, index: u64) -> bool {
        let Ok(index) = usize::try_from(index) else {
            return false;
        };
        // SAFETY: the file is live, and so its mapping; no creation flags,
        // so nothing is allocated.
        let folio =
            unsafe { bindings::__filemap_get_folio((*self.as_ptr()).f_mapping, index, 0, 0) };
        match from_err_ptr(folio) {
            Ok(folio) => {
                // SAFETY: __filemap_get_folio() returned a reference, ours.
                unsafe { bindings::chpox_folio_put(folio) };
                true
            }
            Err(_) => false,
        }
    }

    /// The file's size and modification time in nanoseconds.
    pub(crate) fn stamp(&self) -> (u64, u64) {
        let (mut size, mut mtime_ns) = (0, 0);
        // SAFETY: the file is live; the helper writes both outputs.
        unsafe { bindings::chpox_file_stamp(self.as_ptr(), &mut size, &mut mtime_ns) };
        (size, mtime_ns)
    }

    /// The file's path as the current task's root sees it, written into
    /// `buf` (PATH_MAX bytes suffice), which the result borrows.
    pub(crate) fn path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let start = buf.as_mut_ptr();
        // SAFETY: the file is live and so its path; d_path() writes at most
        // `len` bytes into `buf`, the name at its end, NUL-ended.
        let name =
            from_err_ptr(unsafe { bindings::d_path(&(*self.as_ptr()).f_path, start.cast(), len) })?;
        let offset = (name as usize).wrapping_sub(start as usize);
        let tail = buf.get(offset..).ok_or(EINVAL)?;
        let end = tail.iter().position(|&b| b == 0).ok_or(EINVAL)?;
        Ok(&tail[..end])
    }

    /// Writes `data` at `pos` as a `write()` would.
    pub(crate) fn write_at(&self, data: &[u8], mut pos: i64) -> Result {
        // SAFETY: the file is live; `data` is a kernel buffer of its length,
        // which kernel_write() only reads.
        let n = unsafe {
            bindings::kernel_write(self.as_ptr(), data.as_ptr().cast(), data.len(), &mut pos)
        };
        match n {
            n if n < 0 => Err(Error::from_errno(n as i32)),
            n if n as usize != data.len() => Err(EIO),
            _ => Ok(()),
        }
    }
}
