// SPDX-License-Identifier: GPL-2.0

//! Replacing the current address space with the dumped one: unmap all but
//! the vDSO (which ld-chpox has already moved to the dumped address), map
//! every area again, write the saved pages, set the mm layout.

use super::source::{DumpSource, Image, PagesAt};
use crate::abi::checksum::Checksum;
use crate::abi::dump::{
    check_page_addresses, prot, vma_flags, MmLayout, PagesHead, SectionWriter, Vma, WholeSection,
    PAGE_SIZE, SECTION_HEAD, SECTION_TAIL, USER_END, ZSTD_FRAME_MAX, ZSTD_PAGES_MAX,
};
use crate::kernel_ext::errno::EADDRNOTAVAIL;
use crate::kernel_ext::file::{flags, File, PAGES_PER_IO};
use crate::kernel_ext::mm::{map_flags, mmap_min_addr, CurrentMm, Mm};
use crate::kernel_ext::task::{current_data_rlimit, yield_unless_killed};
use crate::kernel_ext::zstd::Decompressor;
use kernel::prelude::*;
use kernel::types::ARef;

/// The address space's areas: `(start, end, is vDSO or vvar)`.
fn current_areas(mm: &Mm) -> Result<KVec<(u64, u64, bool)>> {
    let mut areas = KVec::new();
    let map = mm.mmap_read();
    for vma in map.vmas() {
        areas.push((vma.start(), vma.end(), vma.is_vdso()), GFP_KERNEL)?;
    }
    Ok(areas)
}

/// The current task's mm; a restore runs in a user process, which has one.
fn current_mm() -> Result<CurrentMm> {
    CurrentMm::get().ok_or(EINVAL)
}

/// Checks, before anything is torn down, that the vDSO is where the dump
/// had it (ld-chpox moves it there with `ARCH_MAP_VDSO_64`).
pub(super) fn check_vdso(image: &Image) -> Result {
    let Some(dumped) = image.vmas().find(|v| v.flags & vma_flags::VDSO != 0) else {
        return Ok(()); // a process without a vDSO keeps none
    };
    let here = current_areas(&*current_mm()?)?;
    if here
        .iter()
        .any(|&(start, end, special)| special && start == dumped.start && end == dumped.end)
    {
        Ok(())
    } else {
        Err(EADDRNOTAVAIL())
    }
}

fn map(mm: &CurrentMm, area: &Vma<'_>) -> Result {
    let len = area.end - area.start;
    let shared = area.flags & vma_flags::SHARED != 0;
    let mut flags = map_flags::FIXED_NOREPLACE
        | if shared {
            map_flags::SHARED
        } else {
            map_flags::PRIVATE
        };
    if area.flags & vma_flags::GROWSDOWN != 0 {
        flags |= map_flags::GROWSDOWN;
    }
    let file = if area.flags & vma_flags::FILE != 0 {
        let writable = shared && area.prot & prot::WRITE != 0;
        let mode = if writable {
            flags::O_RDWR
        } else {
            flags::O_RDONLY
        };
        Some(File::open(area.path, mode | flags::O_LARGEFILE)?)
    } else {
        flags |= map_flags::ANONYMOUS;
        None
    };
    // The file, if any, is held until the end of this function and the
    // mapping takes its own reference.
    let addr = mm.vm_mmap(
        file.as_deref(),
        area.start,
        len,
        area.prot,
        flags,
        area.offset,
    )?;
    if addr != area.start {
        return Err(EEXIST);
    }
    Ok(())
}

/// Indices of the data segment in [`MmLayout::fields`].
const START_DATA: usize = 2;
const END_DATA: usize = 3;

/// Page addresses read at a time when only checksummed.
const ADDRS_CHUNK: usize = 512;

/// Hands out the memory areas of the pages sections, which come in
/// increasing order of area (one section an area, or several of compressed
/// pages), walking the map once.
struct AreaCursor<'a, I> {
    areas: I,
    next_index: u32,
    /// The area handed out last.
    last: Option<Vma<'a>>,
}

impl<'a, I: Iterator<Item = Vma<'a>>> AreaCursor<'a, I> {
    fn area(&mut self, index: u32) -> Result<Vma<'a>> {
        if let Some(last) = self
            .last
            .filter(|_| index.checked_add(1) == Some(self.next_index))
        {
            return Ok(last);
        }
        let skip = index.checked_sub(self.next_index).ok_or(EINVAL)?;
        let area = self.areas.nth(skip as usize).ok_or(EINVAL)?;
        self.next_index = index.checked_add(1).ok_or(EINVAL)?;
        self.last = Some(area);
        Ok(area)
    }
}

/// Reads the page addresses of a pages section, starting at `pos`, in
/// chunks of at most `per_chunk` (up to [`ADDRS_CHUNK`]), each checked
/// against `area` (inside it, page aligned, sorted).
fn for_each_address_chunk(
    source: &DumpSource,
    mut pos: i64,
    count: u64,
    area: &Vma<'_>,
    per_chunk: usize,
    mut f: impl FnMut(&[u8]) -> Result,
) -> Result {
    let mut buf = [0u8; ADDRS_CHUNK * 8];
    let mut prev = None;
    let mut left = count;
    while left > 0 {
        yield_unless_killed()?;
        let n = (left as usize).min(per_chunk.min(ADDRS_CHUNK));
        let chunk = &mut buf[..n * 8];
        source.read(&mut pos, chunk)?;
        check_page_addresses(chunk, area, &mut prev).map_err(|_| EINVAL)?;
        f(chunk)?;
        left -= n as u64;
    }
    Ok(())
}

fn address(a: &[u8]) -> u64 {
    u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]])
}

/// Reads the pages of a run of consecutive addresses from `*pos` straight
/// into place: pinned for writing as ptrace writes (through read-only
/// protections of private mappings), read into, checksummed there.
fn read_run(
    mm: &CurrentMm,
    source: &DumpSource,
    pos: &mut i64,
    addr: u64,
    count: usize,
    checksum: &mut Checksum,
) -> Result {
    let pages = mm.pin_for_write(addr, count)?;
    if pages.len() != count {
        return Err(EINVAL);
    }
    source.read_into(pos, &pages)?;
    pages.for_each_contents(|bytes| checksum.update(bytes));
    Ok(())
}

/// Reads one page from `*pos` into the shared-memory file behind `addr`.
fn read_shared_page(
    mm: &CurrentMm,
    source: &DumpSource,
    pos: &mut i64,
    addr: u64,
    checksum: &mut Checksum,
    page: &mut [u8],
) -> Result {
    source.read(pos, page)?;
    checksum.update(page);
    write_shared_page(mm, addr, page)
}

/// Writes `page` into the shared-memory file behind `addr`: a read-only
/// shared mapping cannot be written through (FOLL_FORCE only breaks COW).
fn write_shared_page(mm: &CurrentMm, addr: u64, page: &[u8]) -> Result {
    let (file, at) = {
        let map = mm.mmap_read();
        let vma = map.vma_lookup(addr).ok_or(EFAULT)?;
        let file = vma.file().ok_or(EFAULT)?;
        (ARef::from(file), vma.file_position(addr).ok_or(EFAULT)?)
    };
    file.write_all_at(page, at)
}

/// Writes the pages of one pages section into memory, verifying its
/// checksum on the way (the section was not read before). The addresses
/// are read twice, streamed: once for the checksum (which covers them
/// before the pages), once beside the pages, which are read straight into
/// place a run of consecutive addresses (at most [`PAGES_PER_IO`]) at a
/// time. Both times the addresses are checked against the area, so a file
/// changed meanwhile can only fail the checksum, never write outside the
/// area.
fn fill<'a>(
    mm: &CurrentMm,
    areas: &mut AreaCursor<'a, impl Iterator<Item = Vma<'a>>>,
    source: &DumpSource,
    at: &PagesAt,
    lazy: bool,
) -> Result {
    let mut checksum = Checksum::new();
    let mut pos = at.frame;
    let mut frame = [0u8; SECTION_HEAD];
    source.read(&mut pos, &mut frame)?;
    checksum.update(&frame);
    let mut head = [0u8; 8];
    source.read(&mut pos, &mut head)?;
    checksum.update(&head);
    let head = PagesHead::decode_head(&head, at.len).map_err(|_| EINVAL)?;
    let area = areas.area(head.vma)?;
    if lazy && vma_flags::private_anonymous(area.flags) {
        // ld-chpox's page server reads them, and checks them (lazy.rs).
        return Ok(());
    }
    let count = u64::from(head.count);
    if count > (area.end - area.start) / PAGE_SIZE {
        return Err(EINVAL);
    }
    for_each_address_chunk(source, pos, count, &area, ADDRS_CHUNK, |chunk| {
        checksum.update(chunk);
        Ok(())
    })?;
    let mut page_pos = pos.checked_add((count * 8) as i64).ok_or(EINVAL)?;
    if vma_flags::shared_anonymous(area.flags) {
        let mut page = KVec::from_elem(0u8, PAGE_SIZE as usize, GFP_KERNEL)?;
        for_each_address_chunk(source, pos, count, &area, ADDRS_CHUNK, |chunk| {
            chunk.chunks_exact(8).try_for_each(|a| {
                read_shared_page(
                    mm,
                    source,
                    &mut page_pos,
                    address(a),
                    &mut checksum,
                    &mut page,
                )
            })
        })?;
    } else {
        for_each_address_chunk(source, pos, count, &area, PAGES_PER_IO, |chunk| {
            let addrs = chunk.chunks_exact(8).map(address);
            for_each_run(addrs, |start, n| {
                read_run(mm, source, &mut page_pos, start, n, &mut checksum)
            })
        })?;
    }
    let mut tail = [0u8; SECTION_TAIL];
    source.read(&mut page_pos, &mut tail)?;
    if checksum.finish() != u32::from_le_bytes(tail) {
        return Err(EINVAL);
    }
    Ok(())
}

/// Longest [`SectionKind::ZstdPages`](crate::abi::dump::SectionKind::ZstdPages)
/// section in the file, framing and checksum included.
const ZSTD_SECTION_MAX: u64 =
    SectionWriter::size(PagesHead::kept_len(ZSTD_PAGES_MAX) + ZSTD_FRAME_MAX);

/// What restoring compressed pages takes, allocated at the first such
/// section: the zstd context, a section as read, and its pages.
struct PageDecompressor {
    zstd: Decompressor,
    section: KVVec<u8>,
    pages: KVVec<u8>,
}

impl PageDecompressor {
    fn new() -> Result<Self> {
        Ok(PageDecompressor {
            zstd: Decompressor::new()?,
            section: KVVec::from_elem(0u8, ZSTD_SECTION_MAX as usize, GFP_KERNEL_ACCOUNT)?,
            pages: KVVec::from_elem(
                0u8,
                (ZSTD_PAGES_MAX as u64 * PAGE_SIZE) as usize,
                GFP_KERNEL_ACCOUNT,
            )?,
        })
    }
}

/// Writes the pages of one compressed pages section into memory: the
/// section is read whole (it is small), its checksum verified, its
/// addresses checked against the area, its frame decompressed to exactly
/// the pages the head counts, and these copied into place a run of
/// consecutive addresses at a time.
fn fill_compressed<'a>(
    mm: &CurrentMm,
    areas: &mut AreaCursor<'a, impl Iterator<Item = Vma<'a>>>,
    source: &DumpSource,
    at: &PagesAt,
    unpack: &mut PageDecompressor,
) -> Result {
    let total = SectionWriter::size(at.len);
    if total > ZSTD_SECTION_MAX {
        return Err(EINVAL);
    }
    let section = unpack.section.get_mut(..total as usize).ok_or(EINVAL)?;
    let mut pos = at.frame;
    source.read(&mut pos, section)?;
    let whole = WholeSection::split(section).ok_or(EINVAL)?;
    if !whole.checksum_ok() {
        return Err(EINVAL);
    }
    let payload = whole.payload();
    let index = payload.get(..4).ok_or(EINVAL)?;
    let area = areas.area(u32::from_le_bytes(index.try_into().map_err(|_| EINVAL)?))?;
    let (head, addrs, frame) = PagesHead::decode_zstd(payload, &area).map_err(|_| EINVAL)?;
    let pages = unpack
        .pages
        .get_mut(..(u64::from(head.count) * PAGE_SIZE) as usize)
        .ok_or(EINVAL)?;
    unpack.zstd.decompress_exact(frame, pages)?;
    let pages = &*pages;
    let addrs = addrs.chunks_exact(8).map(address);
    let page_at = |i: usize| pages.get(i * PAGE_SIZE as usize..(i + 1) * PAGE_SIZE as usize);
    if vma_flags::shared_anonymous(area.flags) {
        return addrs
            .enumerate()
            .try_for_each(|(i, addr)| write_shared_page(mm, addr, page_at(i).ok_or(EINVAL)?));
    }
    let mut done = 0usize;
    for_each_run(addrs, |start, n| {
        let run = mm.pin_for_write(start, n)?;
        let len = n * PAGE_SIZE as usize;
        let bytes = done.checked_add(len).and_then(|end| pages.get(done..end));
        done += len;
        match bytes {
            Some(bytes) if run.len() == n => run.fill_from(bytes),
            _ => Err(EINVAL),
        }
    })
}

/// Calls `f(start, count)` for each run of consecutive page addresses of
/// `addrs` (sorted), in order.
fn for_each_run(
    addrs: impl Iterator<Item = u64>,
    mut f: impl FnMut(u64, usize) -> Result,
) -> Result {
    let mut run: Option<(u64, usize)> = None;
    for a in addrs {
        run = match run {
            Some((start, n)) if start + n as u64 * PAGE_SIZE == a => Some((start, n + 1)),
            Some((start, n)) => {
                f(start, n)?;
                Some((a, 1))
            }
            None => Some((a, 1)),
        };
    }
    match run {
        Some((start, n)) => f(start, n),
        None => Ok(()),
    }
}

/// The mm layout as `prctl(PR_SET_MM_MAP)` would accept it from the process
/// itself: addresses in user space above `mmap_min_addr`, ranges ordered,
/// data within RLIMIT_DATA.
pub(super) fn check_layout(image: &Image) -> Result {
    image
        .mm
        .check_like_prctl(mmap_min_addr(), USER_END)
        .map_err(|_| EINVAL)?;
    let f = &image.mm.fields;
    let span = |start: usize, end: usize| f[end].checked_sub(f[start]).ok_or(EINVAL);
    // As check_data_rlimit(): heap plus data segment within the limit.
    let limit = current_data_rlimit();
    let data = span(MmLayout::START_BRK, MmLayout::BRK)?
        .checked_add(span(START_DATA, END_DATA)?)
        .ok_or(EINVAL)?;
    if data > limit {
        return Err(EINVAL);
    }
    Ok(())
}

fn set_layout(mm: &Mm, image: &Image) {
    // As prctl(PR_SET_MM_MAP): the mmap lock, and the arg lock readers of
    // /proc/PID/cmdline and environ take. The kernel's auxiliary vector may
    // be shorter than the dump's: it keeps its final AT_NULL.
    let mut map = mm.mmap_write();
    map.arg_lock().set_layout(&image.mm.fields, &image.mm.auxv);
}

/// Replaces the current address space with the dumped one. `lazy`: the
/// plain pages sections of private anonymous memory are left out
/// ([`super::lazy`]).
pub(super) fn replace(image: &Image, source: &DumpSource, lazy: bool) -> Result {
    let mm = current_mm()?;
    for (start, end, special) in current_areas(&mm)? {
        yield_unless_killed()?;
        if !special {
            mm.vm_munmap(start, end - start)?;
        }
    }
    for area in image.vmas() {
        yield_unless_killed()?;
        if area.flags & (vma_flags::VDSO | vma_flags::VVAR) == 0 {
            map(&mm, &area)?;
        }
    }
    let mut areas = AreaCursor {
        areas: image.vmas(),
        next_index: 0,
        last: None,
    };
    let mut unpack = None;
    for p in image.pages.iter() {
        if !p.compressed {
            fill(&mm, &mut areas, source, p, lazy)?;
            continue;
        }
        if unpack.is_none() {
            unpack = Some(KBox::new(PageDecompressor::new()?, GFP_KERNEL_ACCOUNT)?);
        }
        if let Some(unpack) = unpack.as_deref_mut() {
            yield_unless_killed()?;
            fill_compressed(&mm, &mut areas, source, p, unpack)?;
        }
    }
    set_layout(&mm, image);
    Ok(())
}
