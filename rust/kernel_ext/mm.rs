// SPDX-License-Identifier: GPL-2.0

//! Address spaces: the current task's mm, its locks, its areas and its
//! pages.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use super::bindings;
use super::file::{File, PAGES_PER_IO};
use core::{marker::PhantomData, ops::Deref, ptr::NonNull};
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::types::Opaque;

/// Bytes in a page.
pub(crate) const PAGE_SIZE: usize = kernel::page::PAGE_SIZE;

/// Bits of [`Vma::flags`] (`VM_*`).
pub(crate) mod vm_flags {
    use super::bindings;
    pub(crate) const READ: u64 = bindings::VM_READ as u64;
    pub(crate) const WRITE: u64 = bindings::VM_WRITE as u64;
    pub(crate) const EXEC: u64 = bindings::VM_EXEC as u64;
    pub(crate) const SHARED: u64 = bindings::VM_SHARED as u64;
    pub(crate) const GROWSDOWN: u64 = bindings::VM_GROWSDOWN as u64;
    /// Device memory: neither of these can be saved.
    pub(crate) const IO: u64 = bindings::VM_IO as u64;
    /// See [`IO`].
    pub(crate) const PFNMAP: u64 = bindings::VM_PFNMAP as u64;
    pub(crate) const DONTCOPY: u64 = bindings::VM_DONTCOPY as u64;
    pub(crate) const WIPEONFORK: u64 = bindings::VM_WIPEONFORK as u64;
}

/// Flags of [`CurrentMm::vm_mmap`] (`MAP_*`).
pub(crate) mod map_flags {
    use super::bindings;
    pub(crate) const SHARED: u32 = bindings::MAP_SHARED;
    pub(crate) const PRIVATE: u32 = bindings::MAP_PRIVATE;
    pub(crate) const FIXED_NOREPLACE: u32 = bindings::MAP_FIXED_NOREPLACE;
    pub(crate) const ANONYMOUS: u32 = bindings::MAP_ANONYMOUS;
    pub(crate) const GROWSDOWN: u32 = bindings::MAP_GROWSDOWN;
}

/// `FOLL_*` flags of get_user_pages (an enum bindgen names oddly).
const FOLL_WRITE: u32 = 1 << 0;
const FOLL_DUMP: u32 = 1 << 2;
const FOLL_FORCE: u32 = 1 << 3;

/// The layout fields of an mm, in the order of `struct prctl_mm_map`:
/// `start_code, end_code, start_data, end_data, start_brk, brk,
/// start_stack, arg_start, arg_end, env_start, env_end`.
pub(crate) type LayoutFields = [u64; 11];

/// The lowest address a mapping may have: `mmap_min_addr` is not exported,
/// its build-time default is the floor.
pub(crate) fn mmap_min_addr() -> u64 {
    // SAFETY: returns a build-time constant.
    unsafe { bindings::chpox_mmap_min_addr() as u64 }
}

/// An address space.
///
/// # Invariants
///
/// The wrapped `mm_struct` is live for as long as a `&Mm` is.
#[repr(transparent)]
pub(crate) struct Mm(Opaque<bindings::mm_struct>);

impl Mm {
    fn as_ptr(&self) -> *mut bindings::mm_struct {
        self.0.get()
    }

    /// Takes the mmap lock for reading.
    pub(crate) fn mmap_read(&self) -> MmapReadGuard<'_> {
        // SAFETY: the mm is live.
        unsafe { bindings::chpox_mmap_read_lock(self.as_ptr()) };
        // INVARIANT: locked just above.
        MmapReadGuard { mm: self }
    }

    /// Takes the mmap lock for writing.
    pub(crate) fn mmap_write(&self) -> MmapWriteGuard<'_> {
        // SAFETY: the mm is live.
        unsafe { bindings::chpox_mmap_write_lock(self.as_ptr()) };
        // INVARIANT: locked just above.
        MmapWriteGuard { mm: self }
    }

    /// Whether any page is swapped out (then a hole in the page tables may
    /// hide data).
    pub(crate) fn has_swap_entries(&self) -> bool {
        // SAFETY: the mm is live; the counter is read without a lock.
        unsafe { bindings::chpox_get_mm_counter(self.as_ptr(), bindings::MM_SWAPENTS as i32) > 0 }
    }
}

/// The current task's mm, borrowed while the code that got it runs in the
/// current task.
///
/// # Invariants
///
/// `mm` is the current task's mm. It is not `Send`: only the task itself
/// replaces its mm (exec, exit), which it does not do while this lives.
pub(crate) struct CurrentMm {
    mm: NonNull<Mm>,
    _not_send: PhantomData<*mut ()>,
}

impl Deref for CurrentMm {
    type Target = Mm;

    fn deref(&self) -> &Mm {
        // SAFETY: the current task's mm stays live while it runs, which it
        // does as long as `self`, which cannot leave it, lives.
        unsafe { self.mm.as_ref() }
    }
}

impl CurrentMm {
    /// The current task's mm, `None` for kernel threads.
    pub(crate) fn get() -> Option<Self> {
        // SAFETY: the current task is always valid; its mm field changes
        // only in its own context.
        let mm = unsafe { (*bindings::get_current()).mm };
        // INVARIANT: current's mm, and the result is not `Send`.
        NonNull::new(mm.cast()).map(|mm| CurrentMm {
            mm,
            _not_send: PhantomData,
        })
    }

    /// Looks up the pages at `addr` and up, one a slot, without taking a
    /// fault or a lock; stops at the first missing one. Returns the filled
    /// slots; earlier contents of `slots` are released first.
    pub(crate) fn pin_pages_fast_only<'s>(
        &self,
        addr: u64,
        slots: &'s mut [Option<PinnedPage>],
    ) -> &'s mut [Option<PinnedPage>] {
        slots.iter_mut().for_each(|slot| *slot = None);
        let n = slots.len().min(i32::MAX as usize) as i32;
        // SAFETY: `Option<PinnedPage>` is a nullable page pointer (a
        // transparent `NonNull`); the slots are all `None`, and the call
        // fills at most `n` of them, each with a reference that becomes
        // the slot's. It works on the current task's mm, which `self` is.
        let got = unsafe {
            bindings::get_user_pages_fast_only(addr as usize, n, 0, slots.as_mut_ptr().cast())
        };
        let got = usize::try_from(got).unwrap_or(0).min(slots.len());
        &mut slots[..got]
    }

    /// Maps `len` bytes at `addr` as `mmap()` would (`file` at `offset`, or
    /// anonymous memory); returns the address mapped.
    pub(crate) fn vm_mmap(
        &self,
        file: Option<&File>,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        offset: u64,
    ) -> Result<u64> {
        // SAFETY: maps into the current task's mm; the file, if any, is
        // live for the call and the mapping takes its own reference.
        let ret = unsafe {
            bindings::vm_mmap(
                file.map_or(core::ptr::null_mut(), File::as_ptr),
                addr as usize,
                len as usize,
                prot as usize,
                flags as usize,
                offset as usize,
            )
        };
        if (ret as isize) < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        Ok(ret as u64)
    }

    /// Unmaps `len` bytes at `addr`.
    pub(crate) fn vm_munmap(&self, addr: u64, len: u64) -> Result {
        // SAFETY: unmaps part of the current task's own address space.
        to_result(unsafe { bindings::vm_munmap(addr as usize, len as usize) })
    }
}

/// Consecutive pages of the current mm pinned to have their contents
/// replaced, as `access_process_vm(FOLL_FORCE)` would write them (through
/// read-only protections of private mappings, never of shared ones);
/// unpinned and marked dirty on drop.
///
/// # Invariants
///
/// The first `count` of `pages` are pinned (`FOLL_PIN`) pages.
pub(crate) struct PagesForWrite {
    pages: [*mut bindings::page; PAGES_PER_IO],
    count: usize,
}

impl CurrentMm {
    /// Pins the `count` pages (at most [`PAGES_PER_IO`]) at `addr`,
    /// faulting in (and breaking copy-on-write for) those that need it.
    pub(crate) fn pin_for_write(&self, addr: u64, count: usize) -> Result<PagesForWrite> {
        let count = count.min(PAGES_PER_IO);
        // INVARIANT: none pinned yet.
        let mut pinned = PagesForWrite {
            pages: [core::ptr::null_mut(); PAGES_PER_IO],
            count: 0,
        };
        while pinned.count < count {
            let at = addr + (pinned.count * PAGE_SIZE) as u64;
            let want = count - pinned.count;
            // SAFETY: pins pages of the current task's mm (`self`) into the
            // free part of the array, at most `want` of them.
            let got = unsafe {
                bindings::pin_user_pages_fast(
                    at as usize,
                    want as i32,
                    FOLL_WRITE | FOLL_FORCE,
                    pinned.pages[pinned.count..].as_mut_ptr(),
                )
            };
            match usize::try_from(got) {
                Ok(0) => return Err(EFAULT),
                // INVARIANT: the call pinned `n` more.
                Ok(n) => pinned.count += n.min(want),
                Err(_) => return Err(Error::from_errno(got)),
            }
        }
        Ok(pinned)
    }
}

impl PagesForWrite {
    /// Number of pages.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The pages, for an I/O vector; they stay pinned by `self`.
    pub(crate) fn raw(&self) -> &[*mut bindings::page] {
        &self.pages[..self.count]
    }

    /// Copies `bytes` into the pages, [`PAGE_SIZE`] to a page in order:
    /// EINVAL unless it is exactly as long as they are.
    pub(crate) fn fill_from(&self, bytes: &[u8]) -> Result {
        if bytes.len() != self.count * PAGE_SIZE {
            return Err(EINVAL);
        }
        for (i, &page) in self.raw().iter().enumerate() {
            let src = bytes
                .get(i * PAGE_SIZE..(i + 1) * PAGE_SIZE)
                .ok_or(EINVAL)?;
            // SAFETY: the page is pinned by `self`, for writing.
            let data = unsafe { bindings::kmap_local_page(page) };
            // SAFETY: a mapped page is PAGE_SIZE writable bytes, and `src`
            // is PAGE_SIZE bytes of kernel memory, not the page.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), data.cast::<u8>(), PAGE_SIZE) };
            // SAFETY: mapped just above.
            unsafe { bindings::kunmap_local(data) };
        }
        Ok(())
    }

    /// Runs `f` on each page's bytes, in order.
    pub(crate) fn for_each_contents(&self, mut f: impl FnMut(&[u8])) {
        for &page in self.raw() {
            // SAFETY: the page is pinned by `self`.
            unsafe { with_page_contents(page, &mut f) };
        }
    }
}

impl Drop for PagesForWrite {
    fn drop(&mut self) {
        // SAFETY: the first `count` pages are pinned by the type invariant;
        // their contents were (or may have been) written.
        unsafe {
            bindings::unpin_user_pages_dirty_lock(self.pages.as_mut_ptr(), self.count as _, true)
        };
    }
}

/// The mmap lock of an mm, held for reading.
///
/// # Invariants
///
/// The lock of `mm` is held for reading until the guard drops.
pub(crate) struct MmapReadGuard<'a> {
    mm: &'a Mm,
}

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: held by the type invariant.
        unsafe { bindings::chpox_mmap_read_unlock(self.mm.as_ptr()) };
    }
}

impl MmapReadGuard<'_> {
    /// The first area that ends above `addr`.
    pub(crate) fn find_vma(&self, addr: u64) -> Option<&Vma> {
        // SAFETY: the mmap lock is held.
        let vma = unsafe { bindings::find_vma(self.mm.as_ptr(), addr as usize) };
        // SAFETY: an area of a locked mm lives while the lock is held, as
        // long as the borrow of the guard.
        (!vma.is_null()).then(|| unsafe { Vma::from_raw(vma) })
    }

    /// The area that holds `addr`.
    pub(crate) fn vma_lookup(&self, addr: u64) -> Option<&Vma> {
        // SAFETY: the mmap lock is held.
        let vma = unsafe { bindings::chpox_vma_lookup(self.mm.as_ptr(), addr as usize) };
        // SAFETY: as in `find_vma`.
        (!vma.is_null()).then(|| unsafe { Vma::from_raw(vma) })
    }

    /// The areas in increasing order of address.
    pub(crate) fn vmas(&self) -> impl Iterator<Item = &Vma> {
        let mut addr = 0;
        core::iter::from_fn(move || {
            let vma = self.find_vma(addr)?;
            addr = vma.end();
            Some(vma)
        })
    }

    /// The page at `addr` as a core dump reads it (the kernel's
    /// `get_dump_page()`): forced through protections, read back from swap,
    /// never created: a hole in anonymous memory stays a hole.
    pub(crate) fn get_dump_page(&self, addr: u64) -> Option<PinnedPage> {
        let mut page: *mut bindings::page = core::ptr::null_mut();
        // SAFETY: the mmap lock is held, as get_user_pages_remote() needs;
        // `page` has room for one pointer.
        let n = unsafe {
            bindings::get_user_pages_remote(
                self.mm.as_ptr(),
                addr as usize,
                1,
                FOLL_DUMP | FOLL_FORCE,
                &mut page,
                core::ptr::null_mut(),
            )
        };
        if n != 1 {
            return None;
        }
        // INVARIANT: one page found, its reference is ours.
        NonNull::new(page).map(PinnedPage)
    }

    /// The layout fields ([`LayoutFields`]) and the saved auxiliary vector
    /// (into `auxv`, as much of it as fits).
    pub(crate) fn layout(&self, auxv: &mut [u64]) -> LayoutFields {
        // The fields are read through a raw pointer: others of the struct
        // change under other locks meanwhile.
        // SAFETY: the mm is live and its mmap lock held; these fields change
        // only under it held for writing.
        unsafe {
            let m = core::ptr::addr_of!((*self.mm.as_ptr()).__bindgen_anon_1);
            for (o, &v) in auxv.iter_mut().zip((*m).saved_auxv.iter()) {
                *o = v as u64;
            }
            [
                (*m).start_code,
                (*m).end_code,
                (*m).start_data,
                (*m).end_data,
                (*m).start_brk,
                (*m).brk,
                (*m).start_stack,
                (*m).arg_start,
                (*m).arg_end,
                (*m).env_start,
                (*m).env_end,
            ]
            .map(|v| v as u64)
        }
    }
}

/// The mmap lock of an mm, held for writing.
///
/// # Invariants
///
/// The lock of `mm` is held for writing until the guard drops.
pub(crate) struct MmapWriteGuard<'a> {
    mm: &'a Mm,
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: held by the type invariant.
        unsafe { bindings::chpox_mmap_write_unlock(self.mm.as_ptr()) };
    }
}

impl MmapWriteGuard<'_> {
    /// Takes the lock of the argument and environment bounds too, which
    /// readers of `/proc/PID/cmdline` and `environ` take instead of the
    /// mmap lock.
    pub(crate) fn arg_lock(&mut self) -> ArgLockGuard<'_> {
        // SAFETY: the mm is live.
        unsafe { bindings::chpox_mm_arg_lock(self.mm.as_ptr()) };
        // INVARIANT: locked just above, with the mmap lock held for writing
        // as long as `self` is borrowed.
        ArgLockGuard { mm: self.mm }
    }
}

/// An mm's arg lock, held inside its mmap lock held for writing.
///
/// # Invariants
///
/// Both locks of `mm` are held until the guard drops (the mmap lock by the
/// write guard this one borrows).
pub(crate) struct ArgLockGuard<'a> {
    mm: &'a Mm,
}

impl Drop for ArgLockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: held by the type invariant.
        unsafe { bindings::chpox_mm_arg_unlock(self.mm.as_ptr()) };
    }
}

impl ArgLockGuard<'_> {
    /// Sets the layout fields and the saved auxiliary vector, as
    /// `prctl(PR_SET_MM_MAP)` does. The vector ends with an AT_NULL
    /// whatever `auxv` holds: readers of `/proc/PID/auxv` and core dumps
    /// stop at the first one.
    pub(crate) fn set_layout(&mut self, fields: &LayoutFields, auxv: &[u64]) {
        let f = fields.map(|v| v as usize);
        // SAFETY: the mm is live and both locks that guard these fields are
        // held; they are written through a raw pointer as others of the
        // struct change under other locks meanwhile.
        unsafe {
            let m = core::ptr::addr_of_mut!((*self.mm.as_ptr()).__bindgen_anon_1);
            (*m).start_code = f[0];
            (*m).end_code = f[1];
            (*m).start_data = f[2];
            (*m).end_data = f[3];
            (*m).start_brk = f[4];
            (*m).brk = f[5];
            (*m).start_stack = f[6];
            (*m).arg_start = f[7];
            (*m).arg_end = f[8];
            (*m).env_start = f[9];
            (*m).env_end = f[10];
            let saved = &mut (*m).saved_auxv;
            for (o, &v) in saved.iter_mut().zip(auxv.iter()) {
                *o = v as _;
            }
            let n = saved.len();
            saved[n - 2..].fill(0);
        }
    }
}

/// A memory area of an mm.
///
/// # Invariants
///
/// The wrapped area is live, its mm's mmap lock held, for as long as a
/// `&Vma` is (it borrows the lock guard).
#[repr(transparent)]
pub(crate) struct Vma(Opaque<bindings::vm_area_struct>);

impl Vma {
    /// # Safety
    ///
    /// `ptr` is an area of an mm whose mmap lock is held for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::vm_area_struct) -> &'a Vma {
        // INVARIANT: the caller's guarantee.
        // SAFETY: `Vma` is a transparent wrapper of `vm_area_struct`.
        unsafe { &*ptr.cast() }
    }

    // The fields are read through the raw pointer: others of the struct
    // (the anon_vma, the lock sequence) change under the read lock.

    pub(crate) fn start(&self) -> u64 {
        // SAFETY: live and locked by the type invariant; the field changes
        // only under the mmap lock held for writing.
        unsafe { (*self.0.get()).__bindgen_anon_1.__bindgen_anon_1.vm_start as u64 }
    }

    pub(crate) fn end(&self) -> u64 {
        // SAFETY: as in `start`.
        unsafe { (*self.0.get()).__bindgen_anon_1.__bindgen_anon_1.vm_end as u64 }
    }

    /// The offset in the file, in pages.
    pub(crate) fn pgoff(&self) -> u64 {
        // SAFETY: as in `start`.
        unsafe { (*self.0.get()).vm_pgoff as u64 }
    }

    /// `VM_*` flags, see [`vm_flags`].
    pub(crate) fn flags(&self) -> u64 {
        // SAFETY: as in `start`.
        unsafe { (*self.0.get()).__bindgen_anon_2.vm_flags as u64 }
    }

    /// The file mapped, if any.
    pub(crate) fn file(&self) -> Option<&File> {
        // SAFETY: as in `start`.
        let file = unsafe { (*self.0.get()).vm_file };
        // SAFETY: an area holds a reference to its file while it lives.
        (!file.is_null()).then(|| unsafe { File::from_raw(file) })
    }

    /// Where `addr` (in the area) is in the mapped file, in pages, as the
    /// kernel's `linear_page_index()` computes it.
    pub(crate) fn page_index(&self, addr: u64) -> Option<u64> {
        let pages_in = addr.checked_sub(self.start())? / PAGE_SIZE as u64;
        pages_in.checked_add(self.pgoff())
    }

    /// Where `addr` (in the area) is in the mapped file, in bytes.
    pub(crate) fn file_position(&self, addr: u64) -> Option<i64> {
        let base = self.pgoff().checked_mul(PAGE_SIZE as u64)?;
        let pos = base.checked_add(addr.checked_sub(self.start())?)?;
        i64::try_from(pos).ok()
    }

    /// The name a special mapping gives itself (`[vdso]`, `[vvar]`), empty
    /// for other areas.
    pub(crate) fn special_name(&self) -> &[u8] {
        // SAFETY: as in `start`.
        let ops = unsafe { (*self.0.get()).vm_ops };
        if ops.is_null() {
            return b"";
        }
        // SAFETY: a live area's operations are static.
        let Some(name) = (unsafe { (*ops).name }) else {
            return b"";
        };
        // SAFETY: the area is live and locked, as `name` needs.
        let s = unsafe { name(self.0.get()) };
        if s.is_null() {
            return b"";
        }
        // SAFETY: a NUL-ended name that lives at least as long as the area.
        unsafe { kernel::str::CStr::from_char_ptr(s) }.as_bytes()
    }

    /// Whether it is the vDSO or its data.
    pub(crate) fn is_vdso(&self) -> bool {
        matches!(
            self.special_name(),
            b"[vdso]" | b"[vvar]" | b"[vvar_vclock]"
        )
    }
}

/// A reference to a page, taken by get_user_pages and released on drop.
///
/// # Invariants
///
/// Holds one reference to the page.
#[repr(transparent)]
pub(crate) struct PinnedPage(NonNull<bindings::page>);

impl Drop for PinnedPage {
    fn drop(&mut self) {
        // SAFETY: the reference is ours by the type invariant.
        unsafe { bindings::chpox_put_page(self.0.as_ptr()) }
    }
}

impl PinnedPage {
    /// Whether it is anonymous memory (not page cache).
    pub(crate) fn is_anon(&self) -> bool {
        // SAFETY: the page is held.
        unsafe { bindings::chpox_page_is_anon(self.0.as_ptr()) }
    }

    /// The page, for an I/O vector; the reference stays this value's.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.0.as_ptr()
    }

    /// Runs `f` on the page's bytes.
    pub(crate) fn with_contents<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: the page is held by `self`.
        unsafe { with_page_contents(self.0.as_ptr(), f) }
    }
}

/// Runs `f` on the bytes of `page`, mapped into the kernel meanwhile.
///
/// # Safety
///
/// `page` must be held (referenced or pinned) for the call.
unsafe fn with_page_contents<R>(page: *mut bindings::page, f: impl FnOnce(&[u8]) -> R) -> R {
    // SAFETY: the page is held (the caller's contract); the mapping is
    // released below.
    let data = unsafe { bindings::kmap_local_page(page) };
    // SAFETY: a mapped page is PAGE_SIZE readable bytes, mapped while `f`
    // runs.
    let r = f(unsafe { core::slice::from_raw_parts(data.cast::<u8>(), PAGE_SIZE) });
    // SAFETY: mapped just above.
    unsafe { bindings::kunmap_local(data) };
    r
}
