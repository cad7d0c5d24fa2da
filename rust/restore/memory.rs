// SPDX-License-Identifier: GPL-2.0

//! Replacing the current address space with the dumped one: unmap all but
//! the vDSO (which ld-chpox has already moved to the dumped address), map
//! every area again, write the saved pages, set the mm layout.

use super::open_file::OpenFile;
use super::source::{DumpSource, Image};
use crate::abi::crc32c::Crc32c;
use crate::abi::dump::{
    check_page_addresses, prot, vma_flags, PagesHead, Vma, PAGE_SIZE, SECTION_HEAD, SECTION_TAIL,
};
use crate::bindings;
use crate::mm::{current_mm, is_vdso_name, special_name, MmapReadGuard, MmapWriteGuard};
use kernel::prelude::*;

/// `FOLL_WRITE | FOLL_FORCE`: write like ptrace, through read-only mappings.
const FOLL_WRITE_FORCE: u32 = (1 << 0) | (1 << 3);

/// The current address space's areas: `(start, end, is vDSO or vvar)`.
fn current_areas() -> Result<KVec<(u64, u64, bool)>> {
    let mm = current_mm();
    let mut areas = KVec::new();
    let _lock = MmapReadGuard::lock(mm);
    let mut addr = 0usize;
    loop {
        // SAFETY: the mmap lock is held.
        let vma = unsafe { bindings::find_vma(mm, addr) };
        if vma.is_null() {
            return Ok(areas);
        }
        // SAFETY: `vma` is live while the lock is held.
        let (start, end, special) = unsafe {
            let range = &(*vma).__bindgen_anon_1.__bindgen_anon_1;
            (
                range.vm_start,
                range.vm_end,
                is_vdso_name(special_name(vma)),
            )
        };
        areas.push((start as u64, end as u64, special), GFP_KERNEL)?;
        addr = end;
    }
}

/// Checks, before anything is torn down, that the vDSO is where the dump
/// had it (ld-chpox moves it there with `ARCH_MAP_VDSO_64`).
pub(super) fn check_vdso(image: &Image) -> Result {
    let Some(dumped) = image.vmas().find(|v| v.flags & vma_flags::VDSO != 0) else {
        return Ok(()); // a process without a vDSO keeps none
    };
    let here = current_areas()?;
    if here
        .iter()
        .any(|&(start, end, special)| special && start == dumped.start && end == dumped.end)
    {
        Ok(())
    } else {
        Err(Error::from_errno(-(bindings::EADDRNOTAVAIL as i32)))
    }
}

fn map(area: &Vma<'_>) -> Result {
    let len = area.end - area.start;
    let shared = area.flags & vma_flags::SHARED != 0;
    let mut flags = bindings::MAP_FIXED_NOREPLACE
        | if shared {
            bindings::MAP_SHARED
        } else {
            bindings::MAP_PRIVATE
        };
    if area.flags & vma_flags::GROWSDOWN != 0 {
        flags |= bindings::MAP_GROWSDOWN;
    }
    let file = if area.flags & vma_flags::FILE != 0 {
        let writable = shared && area.prot & prot::WRITE != 0;
        let mode = if writable {
            bindings::O_RDWR
        } else {
            bindings::O_RDONLY
        };
        Some(OpenFile::open(area.path, mode)?)
    } else {
        flags |= bindings::MAP_ANONYMOUS;
        None
    };
    // SAFETY: maps into the current task; the file, if any, is held until
    // the end of this function and the mapping takes its own reference.
    let addr = unsafe {
        bindings::vm_mmap(
            file.as_ref()
                .map_or(core::ptr::null_mut(), OpenFile::as_ptr),
            area.start as usize,
            len as usize,
            area.prot as usize,
            flags as usize,
            area.offset as usize,
        )
    };
    if addr as u64 != area.start {
        return Err(if (addr as isize) < 0 {
            Error::from_errno(addr as i32)
        } else {
            EEXIST
        });
    }
    Ok(())
}

/// Writes the pages of one pages section into memory, verifying its
/// checksum on the way (the section was not read before).
fn fill(image: &Image, source: &DumpSource, frame_at: i64, len: u64) -> Result {
    let mut crc = Crc32c::new();
    let mut pos = frame_at;
    let mut frame = [0u8; SECTION_HEAD];
    source.read(&mut pos, &mut frame)?;
    crc.update(&frame);
    let mut head = [0u8; 8];
    source.read(&mut pos, &mut head)?;
    crc.update(&head);
    let index = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let count = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if PagesHead::payload_len(count) != len {
        return Err(EINVAL);
    }
    let area = image.vmas().nth(index as usize).ok_or(EINVAL)?;
    // Eight bytes a page: vmalloc'd, as a large restore needs megabytes.
    let mut addrs = KVVec::from_elem(0u8, count as usize * 8, GFP_KERNEL)?;
    source.read(&mut pos, &mut addrs)?;
    crc.update(&addrs);
    check_page_addresses(&addrs, &area, &mut None).map_err(|_| EINVAL)?;
    let mut page = KVec::from_elem(0u8, PAGE_SIZE as usize, GFP_KERNEL)?;
    // SAFETY: the current task.
    let task = unsafe { bindings::get_current() };
    let shared_anon = vma_flags::shared_anonymous(area.flags);
    for a in addrs.chunks_exact(8) {
        let addr = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
        source.read(&mut pos, &mut page)?;
        crc.update(&page);
        if shared_anon {
            // Through its shared-memory file: a read-only shared mapping
            // cannot be written through (FOLL_FORCE only breaks COW).
            let (file, at) = OpenFile::mapped_at(addr).ok_or(EFAULT)?;
            file.write_at(&page, at)?;
            continue;
        }
        // SAFETY: writes one page of kernel buffer into the current task's
        // memory, forcing through read-only protections like ptrace.
        let n = unsafe {
            bindings::access_process_vm(
                task,
                addr as usize,
                page.as_mut_ptr().cast(),
                PAGE_SIZE as i32,
                FOLL_WRITE_FORCE,
            )
        };
        if n != PAGE_SIZE as i32 {
            return Err(EFAULT);
        }
    }
    let mut tail = [0u8; SECTION_TAIL];
    source.read(&mut pos, &mut tail)?;
    if crc.finish() != u32::from_le_bytes(tail) {
        return Err(EINVAL);
    }
    Ok(())
}

fn set_layout(image: &Image) {
    let mm = current_mm();
    let _lock = MmapWriteGuard::lock(mm);
    let f = image.mm.fields.map(|v| v as usize);
    // SAFETY: current's mm, its mmap lock held for writing, as prctl
    // PR_SET_MM does.
    unsafe {
        let m = &mut (*mm).__bindgen_anon_1;
        m.start_code = f[0];
        m.end_code = f[1];
        m.start_data = f[2];
        m.end_data = f[3];
        m.start_brk = f[4];
        m.brk = f[5];
        m.start_stack = f[6];
        m.arg_start = f[7];
        m.arg_end = f[8];
        m.env_start = f[9];
        m.env_end = f[10];
        for (o, &v) in m.saved_auxv.iter_mut().zip(image.mm.auxv.iter()) {
            *o = v as _;
        }
    }
}

/// Replaces the current address space with the dumped one.
pub(super) fn replace(image: &Image, source: &DumpSource) -> Result {
    for (start, end, special) in current_areas()? {
        if !special {
            // SAFETY: unmaps part of the current task's own address space.
            let ret = unsafe { bindings::vm_munmap(start as usize, (end - start) as usize) };
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
        }
    }
    for area in image.vmas() {
        if area.flags & (vma_flags::VDSO | vma_flags::VVAR) == 0 {
            map(&area)?;
        }
    }
    for p in image.pages.iter() {
        fill(image, source, p.frame, p.len)?;
    }
    set_layout(image);
    Ok(())
}
