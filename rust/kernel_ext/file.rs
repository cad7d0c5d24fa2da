// SPDX-License-Identifier: GPL-2.0

//! Open files (`struct file`), their inodes and the descriptor table of the
//! current task.

use crate::kernel_ext::bindings;
use crate::kernel_ext::mm::{PagesForWrite, PinnedPage, PAGE_SIZE};
use crate::kernel_ext::rcu::RcuReadGuard;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use kernel::error::{from_err_ptr, to_result};
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// `open()` flags.
pub(crate) mod flags {
    use crate::kernel_ext::bindings;

    /// Open for reading only.
    pub(crate) const O_RDONLY: u32 = bindings::O_RDONLY;
    /// Open for writing only.
    pub(crate) const O_WRONLY: u32 = bindings::O_WRONLY;
    /// Read and write.
    pub(crate) const O_RDWR: u32 = bindings::O_RDWR;
    /// Create the file if it does not exist.
    pub(crate) const O_CREAT: u32 = bindings::O_CREAT;
    /// With `O_CREAT`: fail if it exists.
    pub(crate) const O_EXCL: u32 = bindings::O_EXCL;
    /// Do not follow a symbolic link in the last component.
    pub(crate) const O_NOFOLLOW: u32 = bindings::O_NOFOLLOW;
    /// Allow files larger than 2 GiB.
    pub(crate) const O_LARGEFILE: u32 = bindings::O_LARGEFILE;
    /// A file that only names its path.
    pub(crate) const O_PATH: u32 = bindings::O_PATH;
    /// Fail unless the path is a directory.
    pub(crate) const O_DIRECTORY: u32 = bindings::O_DIRECTORY;
}

/// `S_IFMT` and the file types chpox tells apart.
pub(crate) mod mode {
    /// Mask of the file type bits.
    pub(crate) const S_IFMT: u32 = 0o170000;
    /// Regular file.
    pub(crate) const S_IFREG: u32 = 0o100000;
    /// Directory.
    pub(crate) const S_IFDIR: u32 = 0o040000;
    /// Character device.
    pub(crate) const S_IFCHR: u32 = 0o020000;
    /// FIFO (and pipe).
    pub(crate) const S_IFIFO: u32 = 0o010000;
    /// Socket.
    pub(crate) const S_IFSOCK: u32 = 0o140000;
}

/// `bytes` followed by a NUL, for a C string argument. C reads it up to its
/// first NUL.
pub(crate) fn nul_terminated(bytes: &[u8]) -> Result<KVec<u8>> {
    let mut s = KVec::with_capacity(bytes.len().checked_add(1).ok_or(EINVAL)?, GFP_KERNEL)?;
    s.extend_from_slice(bytes, GFP_KERNEL)?;
    s.push(0, GFP_KERNEL)?;
    Ok(s)
}

/// Pages [`File::write_pages_at`] writes and [`File::read_into_pages_at`]
/// reads at most in one call: 256 KiB.
pub(crate) const PAGES_PER_IO: usize = 64;

/// An open file: a `struct file`.
///
/// # Invariants
///
/// The file is valid: its reference count is non-zero, and `f_inode`,
/// `f_path` and `f_cred` are set for its lifetime.
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

// SAFETY: the reference count of a file is atomic, and every method below
// is safe to call from any thread.
unsafe impl Send for File {}
// SAFETY: `&File` only reads fields fixed at open (`f_inode`, `f_path`,
// `f_flags` as reported) or calls functions that lock as they need.
unsafe impl Sync for File {}

// SAFETY: `get_file()` and `fput()` take and drop a reference; `fput()`
// may be called in any context (it defers the release).
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: the file is valid, so its count is non-zero.
        unsafe { bindings::chpox_get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns one reference.
        unsafe { bindings::fput(obj.cast().as_ptr()) }
    }
}

impl File {
    /// The file behind `ptr`, borrowed.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid file that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: `File` is a transparent wrapper of `struct file`; the
        // caller guarantees validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Takes over the reference `ptr` holds, or `None` if it is null.
    ///
    /// # Safety
    ///
    /// `ptr` is null or a valid file whose reference the caller owns.
    pub(crate) unsafe fn from_owned(ptr: *mut bindings::file) -> Option<ARef<File>> {
        // INVARIANT: a valid, referenced file.
        // SAFETY: the caller hands its reference over.
        NonNull::new(ptr).map(|p| unsafe { ARef::from_raw(p.cast()) })
    }

    /// The `struct file`, for calls into the kernel.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// Opens `path` with `flags` (`O_*`) and the current credentials, as
    /// `open()` would.
    pub(crate) fn open(path: &[u8], flags: u32) -> Result<ARef<File>> {
        let path = nul_terminated(path)?;
        // SAFETY: `path` is NUL-terminated.
        let file =
            from_err_ptr(unsafe { bindings::filp_open(path.as_ptr().cast(), flags as i32, 0) })?;
        // SAFETY: filp_open() returned a file whose reference is ours.
        unsafe { File::from_owned(file) }.ok_or(ENOENT)
    }

    /// The file at descriptor `fd` of the current task.
    pub(crate) fn fget(fd: u32) -> Option<ARef<File>> {
        // SAFETY: fget() returns a referenced file or null.
        unsafe { File::from_owned(bindings::fget(fd)) }
    }

    /// The file at descriptor `fd` of the current task if it is of type
    /// `file_type` (a [`mode`] `S_IF*` value): `EBADF` if there is none,
    /// `EINVAL` if it is of another type.
    pub(crate) fn fget_of_type(fd: u32, file_type: u32) -> Result<ARef<File>> {
        let file = File::fget(fd).ok_or(EBADF)?;
        if file.inode().file_type() != file_type {
            return Err(EINVAL);
        }
        Ok(file)
    }

    /// Closes a file this code opened as `close()` would (flushing it,
    /// dropping its POSIX locks) and reports what the flush reports.
    pub(crate) fn close(this: ARef<File>) -> Result {
        let file = ARef::into_raw(this);
        // SAFETY: filp_close() consumes the reference we owned.
        to_result(unsafe { bindings::filp_close(file.cast().as_ptr(), core::ptr::null_mut()) })
    }

    /// Whether `self` and `other` are the same open file.
    pub(crate) fn is(&self, other: &File) -> bool {
        core::ptr::eq(self, other)
    }

    /// The inode the file is open on.
    pub(crate) fn inode(&self) -> &Inode {
        // SAFETY: `f_inode` is set at open and lives as long as the file.
        unsafe { Inode::from_raw((*self.as_ptr()).f_inode) }
    }

    /// The path the file was opened by.
    pub(crate) fn path(&self) -> &Path {
        // SAFETY: `f_path` is set at open and never changes.
        unsafe { Path::from_raw(&(*self.as_ptr()).f_path) }
    }

    /// The flags of the file (`O_*`, as `fcntl(F_GETFL)` sees them).
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: the file is valid; a plain read, as /proc/PID/fdinfo does.
        unsafe { (*self.as_ptr()).f_flags }
    }

    /// The file offset.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: the file is valid; a plain read, as /proc/PID/fdinfo does.
        unsafe { (*self.as_ptr()).f_pos }
    }

    /// Reads into `buf` at `*pos` as `pread()` would, advancing `*pos`;
    /// returns how much was read (0 at the end).
    pub(crate) fn read_at(&self, buf: &mut [u8], pos: &mut i64) -> Result<usize> {
        // SAFETY: `buf` is a writable kernel buffer of its length.
        let n = unsafe {
            bindings::kernel_read(self.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), pos)
        };
        usize::try_from(n).map_err(|_| Error::from_errno(n as i32))
    }

    /// Writes `bytes` at `*pos` as `pwrite()` would, advancing `*pos`;
    /// returns how much was written.
    pub(crate) fn write_at(&self, bytes: &[u8], pos: &mut i64) -> Result<usize> {
        // SAFETY: `bytes` is a kernel buffer of its length.
        let n = unsafe {
            bindings::kernel_write(self.as_ptr(), bytes.as_ptr().cast(), bytes.len(), pos)
        };
        usize::try_from(n).map_err(|_| Error::from_errno(n as i32))
    }

    /// Writes whole `pages` (at most [`PAGES_PER_IO`], more are ignored)
    /// at `*pos` in one `vfs_iter_write()`, straight from the pages (no
    /// copy in between), advancing `*pos`; returns the bytes written.
    pub(crate) fn write_pages_at<'a>(
        &self,
        pages: impl IntoIterator<Item = &'a PinnedPage>,
        pos: &mut i64,
    ) -> Result<usize> {
        let pages = pages.into_iter().map(PinnedPage::as_ptr);
        // SAFETY: the pages are held (borrowed from the caller) until we
        // return.
        unsafe { self.pages_io(pages, bindings::ITER_SOURCE, pos) }
    }

    /// Fills `pages` with the file's bytes at `*pos` in one
    /// `vfs_iter_read()`, straight into the pages, advancing `*pos`. A file
    /// that ends before is an error (`EINVAL`: shorter than it says).
    pub(crate) fn read_into_pages_at(&self, pages: &PagesForWrite, pos: &mut i64) -> Result {
        let len = pages.len() * PAGE_SIZE;
        // SAFETY: the pages are pinned by `pages` until we return.
        let done = unsafe { self.pages_io(pages.raw().iter().copied(), bindings::ITER_DEST, pos)? };
        if done != len {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Reads into (`ITER_DEST`) or writes from (`ITER_SOURCE`) the first
    /// [`PAGES_PER_IO`] of `pages`, whole, at `*pos`, until done or the
    /// file ends; returns the bytes moved.
    ///
    /// # Safety
    ///
    /// The pages must stay held until the call returns.
    unsafe fn pages_io(
        &self,
        pages: impl Iterator<Item = *mut bindings::page>,
        direction: u32,
        pos: &mut i64,
    ) -> Result<usize> {
        let mut vecs = [bindings::bio_vec::default(); PAGES_PER_IO];
        let mut n = 0;
        for (vec, page) in vecs.iter_mut().zip(pages) {
            *vec = bindings::bio_vec {
                bv_page: page,
                bv_len: PAGE_SIZE as u32,
                bv_offset: 0,
            };
            n += 1;
        }
        let len = n * PAGE_SIZE;
        let mut iter = MaybeUninit::<bindings::iov_iter>::uninit();
        // SAFETY: sets `iter` up over the first `n` vectors, each a whole
        // page held (by the caller's contract) until we return.
        unsafe {
            bindings::iov_iter_bvec(iter.as_mut_ptr(), direction, vecs.as_ptr(), n as _, len)
        };
        let mut done = 0;
        while done < len {
            let file = self.as_ptr();
            // SAFETY: the file is valid and `iter` was set up above; the
            // calls advance it and `*pos` by what they moved.
            let ret = unsafe {
                if direction == bindings::ITER_SOURCE {
                    bindings::vfs_iter_write(file, iter.as_mut_ptr(), pos, 0)
                } else {
                    bindings::vfs_iter_read(file, iter.as_mut_ptr(), pos, 0)
                }
            };
            match usize::try_from(ret) {
                Ok(0) if direction == bindings::ITER_SOURCE => return Err(EIO),
                Ok(0) => break, // the end of the file
                Ok(moved) => done += moved,
                Err(_) => return Err(Error::from_errno(ret as i32)),
            }
        }
        Ok(done)
    }

    /// Writes the file's data and metadata to its storage (`fsync()`).
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: the file is valid.
        to_result(unsafe { bindings::vfs_fsync(self.as_ptr(), 0) })
    }

    /// Opens `name`, one component, below this (directory) file's path,
    /// never above it, with the current credentials.
    pub(crate) fn open_below(&self, name: &[u8], flags: u32, mode: u16) -> Result<ARef<File>> {
        let name = nul_terminated(name)?;
        // SAFETY: the path is held by the file; `name` is NUL-terminated.
        let file = from_err_ptr(unsafe {
            bindings::file_open_root(
                &(*self.as_ptr()).f_path,
                name.as_ptr().cast(),
                flags as i32,
                mode,
            )
        })?;
        // SAFETY: file_open_root() returned a file whose reference is ours.
        unsafe { File::from_owned(file) }.ok_or(ENOENT)
    }

    /// Writes all of `data` at `pos` as a `pwrite()` would; a short write
    /// is an error (`EIO`).
    pub(crate) fn write_all_at(&self, data: &[u8], mut pos: i64) -> Result {
        match self.write_at(data, &mut pos)? {
            n if n == data.len() => Ok(()),
            _ => Err(EIO),
        }
    }

    /// Size and modification time in nanoseconds, as a dump stamps a
    /// mapped file.
    pub(crate) fn stamp(&self) -> (u64, u64) {
        let inode = self.inode();
        (inode.size() as u64, inode.mtime_ns() as u64)
    }

    /// Whether it is shared memory with no name left: MAP_SHARED|MAP_ANONYMOUS
    /// memory, a memfd, a deleted tmpfs file, a SysV segment. Reopening it by
    /// path is impossible, so its contents go into the dump.
    pub(crate) fn is_nameless_shmem(&self) -> bool {
        // SAFETY: the file is valid; shmem_file() only reads its operations.
        let shmem = unsafe { bindings::chpox_shmem_file(self.as_ptr()) };
        shmem && self.inode().nlink() == 0
    }

    /// Whether the page at `index` (in pages) is in the file's page cache;
    /// never reads or allocates one.
    pub(crate) fn has_cached_page(&self, index: u64) -> bool {
        let Ok(index) = usize::try_from(index) else {
            return false;
        };
        // SAFETY: the file is valid, and so its mapping; no creation flags,
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
}

/// An inode: a `struct inode`.
///
/// # Invariants
///
/// The inode is valid for the lifetime of the reference (its file or
/// dentry holds it).
#[repr(transparent)]
pub(crate) struct Inode(Opaque<bindings::inode>);

impl Inode {
    /// The inode behind `ptr`, borrowed.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid inode that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::inode) -> &'a Inode {
        // SAFETY: `Inode` is a transparent wrapper of `struct inode`.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// Type and permission bits.
    pub(crate) fn mode(&self) -> u32 {
        // SAFETY: the inode is valid; a plain read, as stat() does.
        u32::from(unsafe { (*self.as_ptr()).i_mode })
    }

    /// The type bits of the mode (`S_IF*`).
    pub(crate) fn file_type(&self) -> u32 {
        self.mode() & mode::S_IFMT
    }

    /// The inode number.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: the inode is valid; `i_ino` is set at creation.
        unsafe { (*self.as_ptr()).i_ino as u64 }
    }

    /// The device a device file stands for (the kernel's `dev_t`).
    pub(crate) fn rdev(&self) -> u32 {
        // SAFETY: the inode is valid; `i_rdev` is set at creation.
        unsafe { (*self.as_ptr()).i_rdev }
    }

    /// The owner, as the initial user namespace numbers it.
    pub(crate) fn uid(&self) -> u32 {
        // SAFETY: the inode is valid; a plain read, as stat() does.
        unsafe { (*self.as_ptr()).i_uid.val }
    }

    /// The number of names (hard links) it has.
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: the inode is valid; a plain word, read as stat() does.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.i_nlink }
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> i64 {
        // SAFETY: the inode is valid.
        unsafe { bindings::chpox_i_size_read(self.as_ptr()) }
    }

    /// The modification time in nanoseconds, saturated as
    /// `timespec64_to_ns()` does.
    pub(crate) fn mtime_ns(&self) -> i64 {
        /// `KTIME_SEC_MAX`: the largest second count `ktime_t` holds.
        const SEC_MAX: i64 = i64::MAX / 1_000_000_000;
        // SAFETY: the inode is valid.
        let t = unsafe { bindings::chpox_inode_get_mtime(self.as_ptr()) };
        if t.tv_sec >= SEC_MAX {
            return i64::MAX;
        }
        if t.tv_sec <= -SEC_MAX {
            return i64::MIN;
        }
        // In range: |tv_sec| < SEC_MAX and 0 <= tv_nsec < 10^9.
        t.tv_sec * 1_000_000_000 + t.tv_nsec as i64
    }

    /// Whether this is the same inode as `other`.
    pub(crate) fn is(&self, other: &Inode) -> bool {
        core::ptr::eq(self, other)
    }
}

/// A location in the file system: a `struct path` (mount and dentry).
///
/// # Invariants
///
/// The path is valid and referenced for the lifetime of the reference.
#[repr(transparent)]
pub(crate) struct Path(Opaque<bindings::path>);

impl Path {
    /// The path behind `ptr`, borrowed.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid, referenced path that stays so for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::path) -> &'a Path {
        // SAFETY: `Path` is a transparent wrapper of `struct path`.
        unsafe { &*ptr.cast() }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::path {
        self.0.get()
    }

    /// The name of the path as the current task's root sees it
    /// (`d_path()`), written into `buf`.
    pub(crate) fn name<'b>(&self, buf: &'b mut PathBuffer) -> Result<&'b [u8]> {
        let start = buf.0.as_mut_ptr();
        let size = i32::try_from(buf.0.len()).map_err(|_| EINVAL)?;
        // SAFETY: the path is valid; the buffer has `size` bytes. d_path()
        // writes the name at its end, NUL-ended.
        let name = from_err_ptr(unsafe { bindings::d_path(self.as_ptr(), start.cast(), size) })?;
        let offset = (name as usize).wrapping_sub(start as usize);
        let tail = buf.0.get(offset..).ok_or(EINVAL)?;
        let len = tail.iter().position(|&b| b == 0).ok_or(EINVAL)?;
        Ok(&tail[..len])
    }
}

/// A path with its own references (to the mount and the dentry), dropped
/// with `path_put()`.
///
/// # Invariants
///
/// `0` holds one reference to its mount and to its dentry.
pub(crate) struct PathRef(bindings::path);

impl PathRef {
    /// The current task's working directory.
    pub(crate) fn current_cwd() -> Self {
        let mut path = bindings::path::default();
        // SAFETY: fills `path` with a referenced copy of current's cwd.
        unsafe { bindings::chpox_get_fs_pwd(&mut path) };
        // INVARIANT: get_fs_pwd() took the references.
        PathRef(path)
    }
}

impl core::ops::Deref for PathRef {
    type Target = Path;

    fn deref(&self) -> &Path {
        // SAFETY: by the type invariant the path is referenced while `self`
        // lives, which the borrow does not outlive.
        unsafe { Path::from_raw(&self.0) }
    }
}

impl Drop for PathRef {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the references.
        unsafe { bindings::path_put(&self.0) };
    }
}

/// A buffer for [`Path::name`]: `PATH_MAX` bytes.
pub(crate) struct PathBuffer(KVec<u8>);

impl PathBuffer {
    pub(crate) fn new() -> Result<Self> {
        Ok(PathBuffer(KVec::from_elem(
            0u8,
            bindings::PATH_MAX as usize,
            GFP_KERNEL,
        )?))
    }
}

/// The descriptor table of the current task.
pub(crate) mod fd_table {
    use super::*;

    /// The number of descriptors the table has room for.
    pub(crate) fn size() -> u32 {
        let _rcu = RcuReadGuard::new();
        // SAFETY: current's table is alive while it runs; RCU protects its
        // fdtable.
        unsafe { bindings::chpox_max_fds() }
    }

    /// Whether descriptor `fd` is closed on exec.
    pub(crate) fn close_on_exec(fd: u32) -> bool {
        let _rcu = RcuReadGuard::new();
        // SAFETY: as above.
        unsafe { bindings::chpox_close_on_exec(fd) }
    }
}
