// SPDX-License-Identifier: GPL-2.0

//! The current task's address space: its locks and its special mappings.

use crate::kernel_ext::bindings;

/// The mmap lock of an mm, held in read mode until dropped.
pub(crate) struct MmapReadGuard(*mut bindings::mm_struct);

impl MmapReadGuard {
    pub(crate) fn lock(mm: *mut bindings::mm_struct) -> Self {
        // SAFETY: `mm` is current's, alive while it runs.
        unsafe { bindings::chpox_mmap_read_lock(mm) };
        MmapReadGuard(mm)
    }
}

impl Drop for MmapReadGuard {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`.
        unsafe { bindings::chpox_mmap_read_unlock(self.0) };
    }
}

/// The name a special mapping gives itself (`[vdso]`, `[vvar]`).
///
/// # Safety
///
/// `vma` is a live area of a locked mm.
pub(crate) unsafe fn special_name(vma: *mut bindings::vm_area_struct) -> &'static [u8] {
    // SAFETY: the caller's guarantee; names of special mappings are static.
    unsafe {
        let ops = (*vma).vm_ops;
        if ops.is_null() {
            return b"";
        }
        let Some(name) = (*ops).name else { return b"" };
        let s = name(vma);
        if s.is_null() {
            return b"";
        }
        kernel::str::CStr::from_char_ptr(s).as_bytes()
    }
}

/// The mmap lock of an mm, held in write mode until dropped.
pub(crate) struct MmapWriteGuard(*mut bindings::mm_struct);

impl MmapWriteGuard {
    pub(crate) fn lock(mm: *mut bindings::mm_struct) -> Self {
        // SAFETY: `mm` is current's, alive while it runs.
        unsafe { bindings::chpox_mmap_write_lock(mm) };
        MmapWriteGuard(mm)
    }
}

impl Drop for MmapWriteGuard {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`.
        unsafe { bindings::chpox_mmap_write_unlock(self.0) };
    }
}

/// The lock of an mm's argument and environment bounds, held until
/// dropped: readers of `/proc/PID/cmdline` and `environ` take it, not the
/// mmap lock.
pub(crate) struct ArgLockGuard(*mut bindings::mm_struct);

impl ArgLockGuard {
    pub(crate) fn lock(mm: *mut bindings::mm_struct) -> Self {
        // SAFETY: `mm` is current's, alive while it runs.
        unsafe { bindings::chpox_mm_arg_lock(mm) };
        ArgLockGuard(mm)
    }
}

impl Drop for ArgLockGuard {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`.
        unsafe { bindings::chpox_mm_arg_unlock(self.0) };
    }
}

/// Whether a special mapping name is the vDSO's or its data's.
pub(crate) fn is_vdso_name(name: &[u8]) -> bool {
    matches!(name, b"[vdso]" | b"[vvar]" | b"[vvar_vclock]")
}

/// The current task's mm (null for kernel threads).
pub(crate) fn current_mm() -> *mut bindings::mm_struct {
    // SAFETY: the current task is always valid.
    unsafe { (*bindings::get_current()).mm }
}
