// SPDX-License-Identifier: GPL-2.0

//! The executable of the current process (`mm->exe_file`, what
//! `/proc/PID/exe` names).

use crate::kernel_ext::bindings;
use crate::kernel_ext::file::{mode, File};
use crate::kernel_ext::rcu::RcuReadGuard;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::types::ARef;

/// The current task's mm, null for a kernel thread.
fn current_mm() -> *mut bindings::mm_struct {
    // SAFETY: reads current's own `mm`, which only it changes.
    unsafe { bindings::chpox_current_mm() }
}

/// The current process's executable, if it has one.
pub(crate) fn current() -> Option<ARef<File>> {
    let mm = current_mm();
    if mm.is_null() {
        return None;
    }
    let _rcu = RcuReadGuard::new();
    // SAFETY: current's mm lives while it runs; RCU keeps the file's memory
    // while we try to take a reference.
    let file = unsafe { bindings::chpox_mm_exe_file_rcu(mm) };
    // SAFETY: as above; a file whose count already dropped to zero is being
    // released and is not taken.
    if file.is_null() || !unsafe { bindings::chpox_file_get_not_zero(file) } {
        return None;
    }
    // SAFETY: the reference just taken is ours.
    unsafe { File::from_owned(file) }
}

/// Whether the current task may change its own executable: prctl(PR_SET_MM)
/// asks `CAP_CHECKPOINT_RESTORE` (or `CAP_SYS_ADMIN`) in its user namespace.
pub(crate) fn current_may_replace() -> bool {
    // SAFETY: a capability check of the current task.
    unsafe { bindings::chpox_checkpoint_restore_capable() }
}

/// The mmap lock of an mm in write mode, released on drop.
///
/// # Invariants
///
/// The guard holds the lock of a valid mm.
struct MmapWriteLock(*mut bindings::mm_struct);

impl MmapWriteLock {
    /// # Safety
    ///
    /// `mm` is valid for the lifetime of the guard.
    unsafe fn new(mm: *mut bindings::mm_struct) -> Self {
        // SAFETY: the caller's guarantee.
        unsafe { bindings::chpox_mmap_write_lock(mm) };
        // INVARIANT: locked just above.
        MmapWriteLock(mm)
    }
}

impl Drop for MmapWriteLock {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { bindings::chpox_mmap_write_unlock(self.0) };
    }
}

/// Makes `file` the current process's executable, as
/// `replace_mm_exe_file()` (not exported) does for prctl(PR_SET_MM_EXE_FILE):
/// a regular file the task may execute, denied to writers while it is the
/// executable.
pub(crate) fn replace_current(file: &File) -> Result {
    let mm = current_mm();
    if mm.is_null() {
        return Err(EINVAL);
    }
    let inode = file.inode();
    if inode.file_type() != mode::S_IFREG {
        return Err(EACCES);
    }
    // SAFETY: the file holds its mount and inode.
    to_result(unsafe {
        bindings::inode_permission(
            bindings::chpox_mnt_idmap((*file.path().as_ptr()).mnt),
            inode.as_ptr(),
            bindings::MAY_EXEC as i32,
        )
    })?;
    // SAFETY: the file is valid; undone below when it stops being the
    // executable.
    if unsafe { bindings::chpox_exe_file_deny_write_access(file.as_ptr()) } != 0 {
        return Err(ETXTBSY);
    }
    // The mm's reference, handed over to it.
    let new = ARef::into_raw(ARef::from(file));
    let old = {
        // SAFETY: current's mm lives while it runs.
        let _lock = unsafe { MmapWriteLock::new(mm) };
        // SAFETY: the mmap lock, held, protects `exe_file`; the mm takes
        // over `new`'s reference and gives up the old one's.
        unsafe {
            let old = bindings::chpox_mm_exe_file_locked(mm);
            bindings::chpox_mm_set_exe_file(mm, new.cast().as_ptr());
            old
        }
    };
    if !old.is_null() {
        // SAFETY: `old` was the executable, denied to writers, and the
        // mm's reference to it is ours now.
        unsafe {
            bindings::chpox_exe_file_allow_write_access(old);
            bindings::fput(old);
        }
    }
    Ok(())
}
