// SPDX-License-Identifier: GPL-2.0

//! The address space: its layout in `mm_struct`, the memory map, and the
//! contents of the pages that exist. Untouched memory costs nothing: only
//! pages present in the page tables (or swapped out) are written, and of
//! private file mappings only the pages that differ from the file.

use super::{current, At, PathBuffer, StepResult};
use crate::abi::dump::{
    prot, vma_flags, vmas_head, FileStamp, MmLayout, PagesHead, SectionKind, Vma, PAGE_SIZE,
};
use crate::kernel_ext::bindings;
use crate::kernel_ext::mm::{special_name, MmapReadGuard};
use crate::kernel_ext::task::{resched, yield_unless_killed};
use crate::writer::DumpFile;
use kernel::prelude::*;

/// `FOLL_*` flags of get_user_pages (an enum bindgen names oddly).
const FOLL_DUMP: u32 = 1 << 2;
const FOLL_FORCE: u32 = 1 << 3;
/// Pages looked up per get_user_pages_fast_only() call.
const BATCH: usize = 64;

/// One memory area, copied out of its `vm_area_struct`.
struct Area {
    start: u64,
    end: u64,
    offset: u64,
    prot: u32,
    flags: u32,
    path: KVec<u8>,
    stamp: FileStamp,
}

impl Area {
    fn record(&self) -> Vma<'_> {
        Vma {
            start: self.start,
            end: self.end,
            offset: self.offset,
            prot: self.prot,
            flags: self.flags,
            path: &self.path,
            stamp: self.stamp,
        }
    }

    /// Whether its contents are written to the dump: not for the vDSO (the
    /// kernel provides it) nor shared file mappings (the file holds them).
    fn has_contents(&self) -> bool {
        let kernel_provided = vma_flags::VDSO | vma_flags::VVAR;
        let shared_file = vma_flags::SHARED | vma_flags::FILE;
        self.flags & kernel_provided == 0 && self.flags & shared_file != shared_file
    }

    /// Whether only anonymous pages count (a private file mapping).
    fn anon_only(&self) -> bool {
        self.flags & (vma_flags::FILE | vma_flags::SHARED) == vma_flags::FILE
    }
}

fn areas(mm: *mut bindings::mm_struct, layout: &MmLayout) -> Result<KVVec<Area>> {
    let mut areas = KVVec::new();
    let mut paths = PathBuffer::new()?;
    let _lock = MmapReadGuard::lock(mm);
    let mut addr = 0u64;
    loop {
        // SAFETY: the mmap lock is held.
        let vma = unsafe { bindings::find_vma(mm, addr as usize) };
        if vma.is_null() {
            break;
        }
        // SAFETY: `vma` is live while the lock is held.
        let (start, end, pgoff, vm_flags, file) = unsafe {
            (
                (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_start as u64,
                (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end as u64,
                (*vma).vm_pgoff as u64,
                (*vma).__bindgen_anon_2.vm_flags as u64,
                (*vma).vm_file,
            )
        };
        addr = end;
        let mut a = Area {
            start,
            end,
            offset: 0,
            prot: 0,
            flags: 0,
            path: KVec::new(),
            stamp: FileStamp::default(),
        };
        for (vm, p) in [
            (bindings::VM_READ, prot::READ),
            (bindings::VM_WRITE, prot::WRITE),
            (bindings::VM_EXEC, prot::EXEC),
        ] {
            if vm_flags & vm as u64 != 0 {
                a.prot |= p;
            }
        }
        if vm_flags & bindings::VM_SHARED as u64 != 0 {
            a.flags |= vma_flags::SHARED;
        }
        if vm_flags & bindings::VM_GROWSDOWN as u64 != 0 {
            a.flags |= vma_flags::GROWSDOWN;
        }
        // SAFETY: the lock is held.
        match unsafe { special_name(vma) } {
            b"[vdso]" => a.flags |= vma_flags::VDSO,
            b"[vvar]" | b"[vvar_vclock]" => a.flags |= vma_flags::VVAR,
            // Device memory (the vvar pages are such too, handled above)
            // cannot be saved.
            _ if vm_flags & (bindings::VM_IO | bindings::VM_PFNMAP) as u64 != 0 => {
                return Err(super::EOPNOTSUPP());
            }
            _ => {}
        }
        // SAFETY: `file` is null or held by the area.
        let nameless_shmem = !file.is_null() && unsafe { bindings::chpox_is_nameless_shmem(file) };
        if nameless_shmem && vm_flags & bindings::VM_SHARED as u64 != 0 {
            // Shared memory no path leads to: its contents are dumped, and
            // it comes back as shared anonymous memory.
            a.offset = 0;
        } else if !file.is_null() {
            a.flags |= vma_flags::FILE;
            a.offset = pgoff * PAGE_SIZE;
            // SAFETY: the area holds a reference to its file.
            let f_path = unsafe { &(*file).f_path };
            a.path.extend_from_slice(paths.of(f_path)?, GFP_KERNEL)?;
            // SAFETY: as above.
            let inode = unsafe { crate::kernel_ext::file::File::from_raw(file) }.inode();
            a.stamp.size = inode.size() as u64;
            a.stamp.mtime_ns = inode.mtime_ns() as u64;
        } else {
            let f = &layout.fields;
            if start <= f[MmLayout::BRK] && end >= f[MmLayout::START_BRK] {
                a.flags |= vma_flags::HEAP;
            }
            if (start..end).contains(&f[MmLayout::START_STACK]) {
                a.flags |= vma_flags::STACK;
            }
        }
        areas.push(a, GFP_KERNEL)?;
    }
    Ok(areas)
}

fn layout(mm: *mut bindings::mm_struct) -> MmLayout {
    let mut l = MmLayout::default();
    // SAFETY: current's mm; these fields change only under the mmap lock
    // by the process itself, which is here.
    unsafe {
        let m = &(*mm).__bindgen_anon_1;
        l.fields = [
            m.start_code,
            m.end_code,
            m.start_data,
            m.end_data,
            m.start_brk,
            m.brk,
            m.start_stack,
            m.arg_start,
            m.arg_end,
            m.env_start,
            m.env_end,
        ]
        .map(|v| v as u64);
        for (o, &v) in l.auxv.iter_mut().zip(m.saved_auxv.iter()) {
            *o = v as u64;
        }
    }
    l
}

/// A page pinned by get_user_pages, released on drop.
struct PinnedPage(*mut bindings::page);

impl Drop for PinnedPage {
    fn drop(&mut self) {
        // SAFETY: we own the reference GUP took.
        unsafe { bindings::chpox_put_page(self.0) }
    }
}

impl PinnedPage {
    fn is_anon(&self) -> bool {
        // SAFETY: the page is pinned.
        unsafe { bindings::chpox_page_is_anon(self.0) }
    }

    /// The page that backs `addr` if it exists, without creating it: a
    /// hole in anonymous memory stays a hole (FOLL_DUMP), a swapped-out
    /// page is read back.
    fn lookup(mm: *mut bindings::mm_struct, addr: u64, may_be_swapped: bool) -> Option<Self> {
        let mut page = core::ptr::null_mut();
        // SAFETY: `page` has room for one pointer.
        if unsafe { bindings::get_user_pages_fast_only(addr as usize, 1, 0, &mut page) } == 1 {
            return Some(PinnedPage(page));
        }
        if !may_be_swapped {
            return None;
        }
        let _lock = MmapReadGuard::lock(mm);
        // SAFETY: the mmap lock is held, as get_user_pages_remote() needs.
        let n = unsafe {
            bindings::get_user_pages_remote(
                mm,
                addr as usize,
                1,
                FOLL_DUMP | FOLL_FORCE,
                &mut page,
                core::ptr::null_mut(),
            )
        };
        (n == 1).then(|| PinnedPage(page))
    }
}

/// The addresses of the pages of `area` worth saving. `swap`: the mm has
/// swapped-out pages, so a page missing from the page tables may hold data.
fn present_pages(mm: *mut bindings::mm_struct, area: &Area, swap: bool) -> Result<KVVec<u64>> {
    let mut list = KVVec::new();
    // The lockless lookup honours protections: pages of an area the process
    // cannot read (PROT_NONE) are only found by the forced, slower lookup.
    let unreadable = area.prot & prot::READ == 0;
    let mut addr = area.start;
    let mut steps = 0u32;
    while addr < area.end {
        // Huge sparse areas are walked a page at a time through their holes.
        steps = steps.wrapping_add(1);
        if steps % BATCH as u32 == 0 {
            yield_unless_killed()?;
        }
        let n = (((area.end - addr) / PAGE_SIZE) as usize).min(BATCH);
        let mut pages = [core::ptr::null_mut(); BATCH];
        // SAFETY: `pages` has room for `n` pointers; no faults are taken.
        let got = unsafe {
            bindings::get_user_pages_fast_only(addr as usize, n as i32, 0, pages.as_mut_ptr())
        };
        if got > 0 {
            for (i, &p) in pages[..got as usize].iter().enumerate() {
                let page = PinnedPage(p);
                if !area.anon_only() || page.is_anon() {
                    list.push(addr + i as u64 * PAGE_SIZE, GFP_KERNEL)?;
                }
            }
            addr += got as u64 * PAGE_SIZE;
            continue;
        }
        if vma_flags::shared_anonymous(area.flags) {
            // Not in our page tables, but maybe written by another process
            // that shares it.
            // SAFETY: a plain lookup in `mm`, which the caller keeps alive.
            if unsafe { bindings::chpox_shmem_page_exists(mm, addr as usize) } {
                list.push(addr, GFP_KERNEL)?;
            }
            addr += PAGE_SIZE;
            continue;
        }
        // Not mapped: a hole, unless it is swapped out or unreadable.
        if (swap || unreadable) && area.flags & vma_flags::SHARED == 0 {
            if let Some(page) = PinnedPage::lookup(mm, addr, true) {
                if !area.anon_only() || page.is_anon() {
                    list.push(addr, GFP_KERNEL)?;
                }
            }
        }
        addr += PAGE_SIZE;
    }
    Ok(list)
}

fn write_pages(
    out: &mut DumpFile,
    mm: *mut bindings::mm_struct,
    index: u32,
    pages: &[u64],
) -> Result {
    let head = PagesHead {
        vma: index,
        count: pages.len() as u32,
    };
    let mut missing = false;
    out.section(
        SectionKind::Pages,
        PagesHead::payload_len(head.count),
        |w, out| {
            w.put(out, &head.encode());
            for a in pages {
                w.put(out, &a.to_le_bytes());
            }
            for (i, &a) in pages.iter().enumerate() {
                if i % BATCH == 0 {
                    resched();
                }
                let Some(page) = PinnedPage::lookup(mm, a, true) else {
                    // Gone since the list was made (only another process could
                    // do that, through shared memory): keep the layout, note it.
                    missing = true;
                    w.put(out, &[0u8; PAGE_SIZE as usize]);
                    continue;
                };
                // SAFETY: the page is pinned; the mapping is released below.
                let data = unsafe { bindings::kmap_local_page(page.0) };
                // SAFETY: a mapped page is PAGE_SIZE readable bytes.
                w.put(out, unsafe {
                    core::slice::from_raw_parts(data.cast::<u8>(), PAGE_SIZE as usize)
                });
                // SAFETY: mapped just above.
                unsafe { bindings::kunmap_local(data) };
            }
        },
    );
    if missing {
        return Err(EAGAIN);
    }
    Ok(())
}

pub(super) fn write(out: &mut DumpFile) -> StepResult<()> {
    // SAFETY: current's mm, alive while it runs.
    let mm = unsafe { (*current()).mm };
    if mm.is_null() {
        return Err(super::Failure::new("memory", EINVAL));
    }
    let layout = layout(mm);
    let areas = areas(mm, &layout).at("memory map")?;
    out.section(SectionKind::Mm, MmLayout::SIZE as u64, |w, out| {
        layout.encode(&mut |b| w.put(out, b))
    });
    let len = 8 + areas
        .iter()
        .map(|a| a.record().encoded_len() as u64)
        .sum::<u64>();
    out.section(SectionKind::Vmas, len, |w, out| {
        w.put(out, &vmas_head(areas.len() as u32));
        for a in areas.iter() {
            a.record().encode(&mut |b| w.put(out, b));
        }
    });
    // SAFETY: current's mm.
    let swap = unsafe { bindings::chpox_mm_has_swap_entries(mm) };
    for (i, area) in areas.iter().enumerate() {
        if !area.has_contents() {
            continue;
        }
        let pages = present_pages(mm, area, swap).at("memory")?;
        if !pages.is_empty() {
            write_pages(out, mm, i as u32, &pages).at("memory")?;
        }
    }
    Ok(())
}
