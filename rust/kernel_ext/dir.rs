// SPDX-License-Identifier: GPL-2.0

//! Changing entries of a directory held open: locking it, looking names up,
//! renaming and unlinking, as the `rename()` and `unlink()` system calls do
//! below their path walk.

use crate::kernel_ext::bindings;
use crate::kernel_ext::file::{File, Inode};
use core::ptr::NonNull;
use kernel::error::{from_err_ptr, to_result};
use kernel::prelude::*;

/// A directory, open (`O_PATH` is enough), locked for changing its entries:
/// write access to its mount taken, its inode locked. Both are released on
/// drop.
///
/// # Invariants
///
/// `mnt_want_write()` succeeded on the directory's mount and its inode is
/// locked by `lock_rename()`, both by this guard.
pub(crate) struct DirLock<'a> {
    dir: &'a File,
}

impl<'a> DirLock<'a> {
    /// Locks the directory `dir` is open on.
    pub(crate) fn new(dir: &'a File) -> Result<Self> {
        let path = dir.path().as_ptr();
        // SAFETY: the file holds its path.
        to_result(unsafe { bindings::mnt_want_write((*path).mnt) })?;
        // Same directory twice: lock_rename() just locks its inode.
        // SAFETY: the path's dentry is a live directory.
        unsafe { bindings::lock_rename((*path).dentry, (*path).dentry) };
        // INVARIANT: both taken just above.
        Ok(DirLock { dir })
    }

    fn path(&self) -> bindings::path {
        // SAFETY: the file holds its path, which never changes.
        unsafe { *self.dir.path().as_ptr() }
    }

    fn idmap(&self) -> *mut bindings::mnt_idmap {
        // SAFETY: the mount is held by the file.
        unsafe { bindings::chpox_mnt_idmap(self.path().mnt) }
    }

    fn dir_inode(&self) -> *mut bindings::inode {
        // SAFETY: the dentry of an open directory has its inode.
        unsafe { (*self.path().dentry).d_inode }
    }

    /// The entry `name` (one component), positive or negative.
    pub(crate) fn lookup(&self, name: &[u8]) -> Result<DentryRef<'_>> {
        let len = i32::try_from(name.len()).map_err(|_| EINVAL)?;
        // SAFETY: the directory's inode is locked, as lookup_one_len()
        // requires; `name` is valid for its length.
        let dentry = from_err_ptr(unsafe {
            bindings::lookup_one_len(name.as_ptr().cast(), self.path().dentry, len)
        })?;
        // INVARIANT: lookup_one_len() returned a referenced dentry.
        Ok(DentryRef {
            dentry: NonNull::new(dentry).ok_or(ENOENT)?,
            _dir: core::marker::PhantomData,
        })
    }

    /// Renames `old` to `new`, both entries of this directory.
    pub(crate) fn rename(&self, old: &DentryRef<'_>, new: &DentryRef<'_>) -> Result {
        let (idmap, dir) = (self.idmap(), self.dir_inode());
        let mut rd = bindings::renamedata {
            old_mnt_idmap: idmap,
            old_dir: dir,
            old_dentry: old.dentry.as_ptr(),
            new_mnt_idmap: idmap,
            new_dir: dir,
            new_dentry: new.dentry.as_ptr(),
            delegated_inode: core::ptr::null_mut(),
            flags: 0,
        };
        // SAFETY: the mount is held and writable, the directory locked and
        // both dentries referenced: everything vfs_rename() requires.
        to_result(unsafe { bindings::vfs_rename(&mut rd) })
    }

    /// Removes the entry `victim` of this directory.
    pub(crate) fn unlink(&self, victim: &DentryRef<'_>) -> Result {
        // SAFETY: as for `rename`.
        to_result(unsafe {
            bindings::vfs_unlink(
                self.idmap(),
                self.dir_inode(),
                victim.dentry.as_ptr(),
                core::ptr::null_mut(),
            )
        })
    }
}

impl Drop for DirLock<'_> {
    fn drop(&mut self) {
        let path = self.path();
        // SAFETY: both taken in `new`, by the type invariant.
        unsafe {
            bindings::unlock_rename(path.dentry, path.dentry);
            bindings::mnt_drop_write(path.mnt);
        }
    }
}

/// A dentry looked up in a locked directory, released on drop.
///
/// # Invariants
///
/// `dentry` is referenced by this value.
pub(crate) struct DentryRef<'a> {
    dentry: NonNull<bindings::dentry>,
    _dir: core::marker::PhantomData<&'a DirLock<'a>>,
}

impl DentryRef<'_> {
    /// The inode of the entry, `None` for a negative one.
    pub(crate) fn inode(&self) -> Option<&Inode> {
        // SAFETY: the dentry is referenced; its inode cannot change while
        // the directory is locked.
        let inode = unsafe { (*self.dentry.as_ptr()).d_inode };
        // SAFETY: a positive dentry holds its inode.
        (!inode.is_null()).then(|| unsafe { Inode::from_raw(inode) })
    }

    /// Whether the entry is that of the open `file`.
    pub(crate) fn is_of(&self, file: &File) -> bool {
        self.inode().is_some_and(|i| i.is(file.inode()))
    }
}

impl Drop for DentryRef<'_> {
    fn drop(&mut self) {
        // SAFETY: we own one reference, by the type invariant.
        unsafe { bindings::dput(self.dentry.as_ptr()) }
    }
}
