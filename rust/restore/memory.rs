// SPDX-License-Identifier: GPL-2.0

//! Replacing the current address space with the dumped one: unmap all but
//! the vDSO (which ld-chpox has already moved to the dumped address), map
//! every area again, write the saved pages, set the mm layout.

use super::source::{DumpSource, Image, PagesAt};
use crate::abi::crc32c::Crc32c;
use crate::abi::dump::{
    check_page_addresses, prot, vma_flags, MmLayout, PagesHead, Vma, PAGE_SIZE, SECTION_HEAD,
    SECTION_TAIL, USER_END,
};
use crate::kernel_ext::bindings;
use crate::kernel_ext::file::File;
use crate::kernel_ext::mm::{
    current_mm, is_vdso_name, special_name, ArgLockGuard, MmapReadGuard, MmapWriteGuard,
};
use crate::kernel_ext::task::yield_unless_killed;
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
        Some(File::open(area.path, mode | bindings::O_LARGEFILE)?)
    } else {
        flags |= bindings::MAP_ANONYMOUS;
        None
    };
    // SAFETY: maps into the current task; the file, if any, is held until
    // the end of this function and the mapping takes its own reference.
    let addr = unsafe {
        bindings::vm_mmap(
            file.as_ref().map_or(core::ptr::null_mut(), |f| f.as_ptr()),
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

/// Indices of the data segment in [`MmLayout::fields`].
const START_DATA: usize = 2;
const END_DATA: usize = 3;

/// Page addresses read at a time.
const ADDRS_CHUNK: usize = 512;

/// Hands out the memory areas of the pages sections, which come in
/// increasing order of area (at most one section an area), walking the map
/// once.
struct AreaCursor<I> {
    areas: I,
    next_index: u32,
}

impl<'a, I: Iterator<Item = Vma<'a>>> AreaCursor<I> {
    fn area(&mut self, index: u32) -> Result<Vma<'a>> {
        let skip = index.checked_sub(self.next_index).ok_or(EINVAL)?;
        let area = self.areas.nth(skip as usize).ok_or(EINVAL)?;
        self.next_index = index.checked_add(1).ok_or(EINVAL)?;
        Ok(area)
    }
}

/// Reads the page addresses of a pages section, starting at `pos`, in
/// chunks, each checked against `area` (inside it, page aligned, sorted).
fn for_each_address_chunk(
    source: &DumpSource,
    mut pos: i64,
    count: u64,
    area: &Vma<'_>,
    mut f: impl FnMut(&[u8]) -> Result,
) -> Result {
    let mut buf = [0u8; ADDRS_CHUNK * 8];
    let mut prev = None;
    let mut left = count;
    while left > 0 {
        yield_unless_killed()?;
        let n = (left as usize).min(ADDRS_CHUNK);
        let chunk = &mut buf[..n * 8];
        source.read(&mut pos, chunk)?;
        check_page_addresses(chunk, area, &mut prev).map_err(|_| EINVAL)?;
        f(chunk)?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes one page of the dump at `addr` of the current process.
fn put_page(addr: u64, page: &mut [u8], shared_anon: bool) -> Result {
    if shared_anon {
        // Through its shared-memory file: a read-only shared mapping
        // cannot be written through (FOLL_FORCE only breaks COW).
        let (file, mut at) = File::mapped_in_current(addr).ok_or(EFAULT)?;
        return match file.write_at(page, &mut at)? {
            n if n != page.len() => Err(EIO),
            _ => Ok(()),
        };
    }
    // SAFETY: the current task, always valid.
    let task = unsafe { bindings::get_current() };
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
    Ok(())
}

/// Writes the pages of one pages section into memory, verifying its
/// checksum on the way (the section was not read before). The addresses
/// are read twice, streamed: once for the checksum (which covers them
/// before the pages), once beside the pages; both times they are checked
/// against the area, so a file changed meanwhile can only fail the
/// checksum, never write outside the area.
fn fill<'a>(
    areas: &mut AreaCursor<impl Iterator<Item = Vma<'a>>>,
    source: &DumpSource,
    at: &PagesAt,
) -> Result {
    let mut crc = Crc32c::new();
    let mut pos = at.frame;
    let mut frame = [0u8; SECTION_HEAD];
    source.read(&mut pos, &mut frame)?;
    crc.update(&frame);
    let mut head = [0u8; 8];
    source.read(&mut pos, &mut head)?;
    crc.update(&head);
    let head = PagesHead::decode_head(&head, at.len).map_err(|_| EINVAL)?;
    let area = areas.area(head.vma)?;
    let count = u64::from(head.count);
    if count > (area.end - area.start) / PAGE_SIZE {
        return Err(EINVAL);
    }
    for_each_address_chunk(source, pos, count, &area, |chunk| {
        crc.update(chunk);
        Ok(())
    })?;
    let mut page_pos = pos.checked_add((count * 8) as i64).ok_or(EINVAL)?;
    let mut page = KVec::from_elem(0u8, PAGE_SIZE as usize, GFP_KERNEL)?;
    let shared_anon = vma_flags::shared_anonymous(area.flags);
    for_each_address_chunk(source, pos, count, &area, |chunk| {
        for a in chunk.chunks_exact(8) {
            let addr = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
            source.read(&mut page_pos, &mut page)?;
            crc.update(&page);
            put_page(addr, &mut page, shared_anon)?;
        }
        Ok(())
    })?;
    let mut tail = [0u8; SECTION_TAIL];
    source.read(&mut page_pos, &mut tail)?;
    if crc.finish() != u32::from_le_bytes(tail) {
        return Err(EINVAL);
    }
    Ok(())
}

/// The mm layout as `prctl(PR_SET_MM_MAP)` would accept it from the process
/// itself: addresses in user space above `mmap_min_addr`, ranges ordered,
/// data within RLIMIT_DATA.
pub(super) fn check_layout(image: &Image) -> Result {
    // SAFETY: a plain read of a build-time constant.
    let min_addr = unsafe { bindings::chpox_mmap_min_addr() } as u64;
    image
        .mm
        .check_like_prctl(min_addr, USER_END)
        .map_err(|_| EINVAL)?;
    let f = &image.mm.fields;
    let span = |start: usize, end: usize| f[end].checked_sub(f[start]).ok_or(EINVAL);
    // As check_data_rlimit(): heap plus data segment within the limit.
    // SAFETY: current's signal_struct, alive while it runs; the limit is a
    // plain word that prlimit() changes atomically.
    let limit = unsafe {
        (*(*bindings::get_current()).signal).rlim[bindings::RLIMIT_DATA as usize].rlim_cur
    } as u64;
    let data = span(MmLayout::START_BRK, MmLayout::BRK)?
        .checked_add(span(START_DATA, END_DATA)?)
        .ok_or(EINVAL)?;
    if data > limit {
        return Err(EINVAL);
    }
    Ok(())
}

fn set_layout(image: &Image) {
    let mm = current_mm();
    // As prctl(PR_SET_MM_MAP): the mmap lock, and the arg lock readers of
    // /proc/PID/cmdline and environ take.
    let _lock = MmapWriteGuard::lock(mm);
    let _args = ArgLockGuard::lock(mm);
    let f = image.mm.fields.map(|v| v as usize);
    // SAFETY: current's mm, its mmap and arg locks held.
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
        // Readers of /proc/PID/auxv and core dumps stop at the first
        // AT_NULL: the vector ends with one whatever the dump says (the
        // kernel's vector may be shorter than the dump's).
        let n = m.saved_auxv.len();
        m.saved_auxv[n - 2..].fill(0);
    }
}

/// Replaces the current address space with the dumped one.
pub(super) fn replace(image: &Image, source: &DumpSource) -> Result {
    for (start, end, special) in current_areas()? {
        yield_unless_killed()?;
        if !special {
            // SAFETY: unmaps part of the current task's own address space.
            let ret = unsafe { bindings::vm_munmap(start as usize, (end - start) as usize) };
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
        }
    }
    for area in image.vmas() {
        yield_unless_killed()?;
        if area.flags & (vma_flags::VDSO | vma_flags::VVAR) == 0 {
            map(&area)?;
        }
    }
    let mut areas = AreaCursor {
        areas: image.vmas(),
        next_index: 0,
    };
    for p in image.pages.iter() {
        fill(&mut areas, source, p)?;
    }
    set_layout(image);
    Ok(())
}
