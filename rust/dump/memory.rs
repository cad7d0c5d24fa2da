// SPDX-License-Identifier: GPL-2.0

//! The address space: its layout in `mm_struct`, the memory map, and the
//! contents of the pages that exist. Untouched memory costs nothing: only
//! pages present in the page tables (or swapped out) are written, and of
//! private file mappings only the pages that differ from the file.

use super::{At, Step, StepResult};
use crate::abi::dump::{
    prot, vma_flags, vmas_head, FileStamp, MmLayout, PagesHead, SectionKind, SectionWriter, Vma,
    PAGE_SIZE, ZSTD_FRAME_MAX, ZSTD_PAGES_MAX,
};
use crate::kernel_ext::file::{PathBuffer, PAGES_PER_IO};
use crate::kernel_ext::mm::{vm_flags, CurrentMm, Mm, MmapReadGuard, PinnedPage};
use crate::kernel_ext::task::{resched, yield_unless_killed};
use crate::kernel_ext::zstd::Compressor;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// zstd level of compressed dumps: its fastest standard level, as a
/// checkpoint is waited for while it compresses. The faster negative
/// levels leave literals uncompressed, which is most of what data without
/// repeats saves (`make bench`: level -3 kept all of `half-256M`).
const ZSTD_LEVEL: i32 = 1;

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
    /// Whether a fork copies it as it is (not `MADV_DONTFORK` nor
    /// `MADV_WIPEONFORK`).
    forks_whole: bool,
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

    /// Whether a forked copy of the process holds its contents as they
    /// were at the fork, whatever the process does after: private, and
    /// copied by the fork.
    fn snapshot_by_fork(&self) -> bool {
        self.flags & vma_flags::SHARED == 0 && self.forks_whole
    }

    /// Whether only anonymous pages count (a private file mapping).
    fn anon_only(&self) -> bool {
        self.flags & (vma_flags::FILE | vma_flags::SHARED) == vma_flags::FILE
    }
}

/// The memory map, read under the mmap lock.
fn areas(
    map: &MmapReadGuard<'_>,
    layout: &MmLayout,
    paths: &mut PathBuffer,
) -> Result<KVVec<Area>> {
    let mut areas = KVVec::new();
    for vma in map.vmas() {
        let (start, end, vm) = (vma.start(), vma.end(), vma.flags());
        let mut a = Area {
            start,
            end,
            offset: 0,
            prot: 0,
            flags: 0,
            path: KVec::new(),
            stamp: FileStamp::default(),
            forks_whole: vm & (vm_flags::DONTCOPY | vm_flags::WIPEONFORK) == 0,
        };
        for (v, p) in [
            (vm_flags::READ, prot::READ),
            (vm_flags::WRITE, prot::WRITE),
            (vm_flags::EXEC, prot::EXEC),
        ] {
            if vm & v != 0 {
                a.prot |= p;
            }
        }
        if vm & vm_flags::SHARED != 0 {
            a.flags |= vma_flags::SHARED;
        }
        if vm & vm_flags::GROWSDOWN != 0 {
            a.flags |= vma_flags::GROWSDOWN;
        }
        match vma.special_name() {
            b"[vdso]" => a.flags |= vma_flags::VDSO,
            b"[vvar]" | b"[vvar_vclock]" => a.flags |= vma_flags::VVAR,
            // Device memory (the vvar pages are such too, handled above)
            // cannot be saved.
            _ if vm & (vm_flags::IO | vm_flags::PFNMAP) != 0 => {
                return Err(crate::kernel_ext::errno::EOPNOTSUPP());
            }
            _ => {}
        }
        match vma.file() {
            Some(file) if file.is_nameless_shmem() && vm & vm_flags::SHARED != 0 => {
                // Shared memory no path leads to: its contents are dumped,
                // and it comes back as shared anonymous memory.
                a.offset = 0;
            }
            Some(file) => {
                a.flags |= vma_flags::FILE;
                a.offset = vma.pgoff() * PAGE_SIZE;
                a.path
                    .extend_from_slice(file.path().name(paths)?, GFP_KERNEL)?;
                (a.stamp.size, a.stamp.mtime_ns) = file.stamp();
            }
            None => {
                let f = &layout.fields;
                if start <= f[MmLayout::BRK] && end >= f[MmLayout::START_BRK] {
                    a.flags |= vma_flags::HEAP;
                }
                if (start..end).contains(&f[MmLayout::START_STACK]) {
                    a.flags |= vma_flags::STACK;
                }
            }
        }
        areas.push(a, GFP_KERNEL)?;
    }
    Ok(areas)
}

fn layout(map: &MmapReadGuard<'_>) -> MmLayout {
    let mut l = MmLayout::default();
    l.fields = map.layout(&mut l.auxv);
    l
}

/// The page that backs `addr` if it exists, without creating it: a hole
/// in anonymous memory stays a hole, a swapped-out page is read back.
fn lookup_page(mm: &CurrentMm, addr: u64) -> Option<PinnedPage> {
    let mut slot = [None];
    if let Some(page) = mm.pin_pages_fast_only(addr, &mut slot).first_mut() {
        return page.take();
    }
    mm.mmap_read().get_dump_page(addr)
}

/// Whether the shared-memory page behind `addr` exists, in this process's
/// page tables or not (another process may have written it): looked up in
/// the file's page cache, without allocating one.
fn shmem_page_exists(mm: &Mm, addr: u64) -> bool {
    let map = mm.mmap_read();
    let Some(vma) = map.vma_lookup(addr) else {
        return false;
    };
    match (vma.file(), vma.page_index(addr)) {
        (Some(file), Some(index)) => file.has_cached_page(index),
        _ => false,
    }
}

/// A page worth saving: its address and, once looked up, the page. The
/// pages found in the first walk stay held until written, so each is
/// looked up once; a shared-memory page seen only in its file's cache is
/// looked up when written.
struct PresentPage {
    addr: u64,
    page: Option<PinnedPage>,
}

/// The pages of `area` worth saving. `swap`: the mm has swapped-out pages,
/// so a page missing from the page tables may hold data.
fn present_pages(mm: &CurrentMm, area: &Area, swap: bool) -> Result<KVVec<PresentPage>> {
    let mut list = KVVec::new();
    let keep = |list: &mut KVVec<PresentPage>, addr, page: PinnedPage| {
        if !area.anon_only() || page.is_anon() {
            let page = Some(page);
            list.push(PresentPage { addr, page }, GFP_KERNEL)
        } else {
            Ok(())
        }
    };
    // The lockless lookup honours protections: pages of an area the process
    // cannot read (PROT_NONE) are only found by the forced, slower lookup.
    let unreadable = area.prot & prot::READ == 0;
    let mut slots: [Option<PinnedPage>; BATCH] = [const { None }; BATCH];
    let mut addr = area.start;
    let mut steps = 0u32;
    while addr < area.end {
        // Huge sparse areas are walked a page at a time through their holes.
        steps = steps.wrapping_add(1);
        if steps % BATCH as u32 == 0 {
            yield_unless_killed()?;
        }
        let n = (((area.end - addr) / PAGE_SIZE) as usize).min(BATCH);
        let pinned = mm.pin_pages_fast_only(addr, &mut slots[..n]);
        if !pinned.is_empty() {
            for slot in pinned.iter_mut() {
                if let Some(page) = slot.take() {
                    keep(&mut list, addr, page)?;
                }
                addr += PAGE_SIZE;
            }
            continue;
        }
        if vma_flags::shared_anonymous(area.flags) {
            // Not in our page tables, but maybe written by another process
            // that shares it.
            if shmem_page_exists(mm, addr) {
                list.push(PresentPage { addr, page: None }, GFP_KERNEL)?;
            }
            addr += PAGE_SIZE;
            continue;
        }
        // Not mapped: a hole, unless it is swapped out or unreadable.
        if (swap || unreadable) && area.flags & vma_flags::SHARED == 0 {
            if let Some(page) = lookup_page(mm, addr) {
                keep(&mut list, addr, page)?;
            }
        }
        addr += PAGE_SIZE;
    }
    Ok(list)
}

/// Looks up the pages of `batch` not held yet (shared memory seen only in
/// its file's cache).
fn look_up_rest(mm: &CurrentMm, batch: &mut [PresentPage]) {
    for p in batch.iter_mut() {
        if p.page.is_none() {
            p.page = lookup_page(mm, p.addr);
        }
    }
}

/// Writes one batch of pages: checksummed through a temporary kernel
/// mapping, then written to the file straight from the pages, and let go.
/// Returns false if a page had gone (only another process could do that,
/// through shared memory): zeros keep the layout, and the caller fails.
fn write_batch(
    w: &mut SectionWriter,
    out: &mut DumpFile,
    mm: &CurrentMm,
    batch: &mut [PresentPage],
) -> bool {
    look_up_rest(mm, batch);
    let mut complete = true;
    // Runs of pages found, each but the last followed by one that is not.
    let mut runs = batch.split_mut(|p| p.page.is_none()).peekable();
    while let Some(run) = runs.next() {
        let found = || run.iter().filter_map(|p| p.page.as_ref());
        found().for_each(|page| page.with_contents(|bytes| w.account(bytes)));
        out.put_pages(found());
        run.iter_mut().for_each(|p| p.page = None);
        if runs.peek().is_some() {
            complete = false;
            w.put(out, &[0u8; PAGE_SIZE as usize]);
        }
    }
    complete
}

/// Puts the head of a pages section of area `index` for `pages`, and their
/// addresses.
fn put_head_and_addresses(
    w: &mut SectionWriter,
    out: &mut DumpFile,
    index: u32,
    pages: &[PresentPage],
) {
    let head = PagesHead {
        vma: index,
        count: pages.len() as u32,
    };
    w.put(out, &head.encode());
    for p in pages.iter() {
        w.put(out, &p.addr.to_le_bytes());
    }
}

fn write_pages(
    out: &mut DumpFile,
    mm: &CurrentMm,
    index: u32,
    pages: &mut [PresentPage],
) -> Result {
    let mut complete = true;
    out.section(
        SectionKind::Pages,
        PagesHead::payload_len(pages.len() as u32),
        |w, out| {
            put_head_and_addresses(w, out, index, pages);
            for batch in pages.chunks_mut(PAGES_PER_IO) {
                resched();
                complete &= write_batch(w, out, mm, batch);
            }
        },
    );
    if !complete {
        return Err(EAGAIN);
    }
    Ok(())
}

/// Batches written as they are, without trying, after one that did not
/// compress: memory that does not compress (media, encrypted or already
/// compressed data) mostly comes in long stretches.
const SKIP_AFTER_INCOMPRESSIBLE: u32 = 15;

/// What compressing pages takes, allocated once a dump: the zstd context,
/// the pages of one section gathered, and their frame.
pub(crate) struct PageCompressor {
    zstd: Compressor,
    pages: KVVec<u8>,
    frame: KVVec<u8>,
    /// Batches still to be written without trying to compress them.
    skip: u32,
}

/// What became of a batch of pages: a zstd frame, or the pages as they
/// are (they did not compress).
enum Packed<'a> {
    Frame(&'a [u8]),
    Raw(&'a [u8]),
}

impl PageCompressor {
    pub(crate) fn new() -> Result<Self> {
        let pages_len = ZSTD_PAGES_MAX as usize * PAGE_SIZE as usize;
        Ok(PageCompressor {
            zstd: Compressor::new(ZSTD_LEVEL, pages_len)?,
            pages: KVVec::from_elem(0u8, pages_len, GFP_KERNEL)?,
            frame: KVVec::from_elem(0u8, ZSTD_FRAME_MAX as usize, GFP_KERNEL)?,
            skip: 0,
        })
    }

    /// Whether the next batch is to be written without trying to compress
    /// it.
    fn skips_next(&mut self) -> bool {
        let skip = self.skip > 0;
        self.skip = self.skip.saturating_sub(1);
        skip
    }

    /// Compresses the pages of `batch` (at most [`ZSTD_PAGES_MAX`]),
    /// letting them go: the frame, or the pages themselves if it saved
    /// less than 1/32 of them. EAGAIN if a page had gone, as for
    /// [`write_batch`].
    fn compress(&mut self, mm: &CurrentMm, batch: &mut [PresentPage]) -> Result<Packed<'_>> {
        look_up_rest(mm, batch);
        let mut len = 0;
        for p in batch.iter_mut() {
            let page = p.page.take().ok_or(EAGAIN)?;
            let to = self
                .pages
                .get_mut(len..len + PAGE_SIZE as usize)
                .ok_or(EINVAL)?;
            page.with_contents(|bytes| to.copy_from_slice(bytes));
            len += to.len();
        }
        let input = self.pages.get(..len).ok_or(EINVAL)?;
        let n = self.zstd.compress(input, &mut self.frame)?;
        if n >= len - len / 32 {
            self.skip = SKIP_AFTER_INCOMPRESSIBLE;
            return Ok(Packed::Raw(input));
        }
        Ok(Packed::Frame(self.frame.get(..n).ok_or(EINVAL)?))
    }
}

/// Writes the pages of area `index` compressed, a
/// [`SectionKind::ZstdPages`] section for every [`ZSTD_PAGES_MAX`] of them;
/// those that do not compress as a [`SectionKind::Pages`] section.
fn write_compressed_pages(
    out: &mut DumpFile,
    mm: &CurrentMm,
    index: u32,
    pages: &mut [PresentPage],
    zstd: &mut PageCompressor,
) -> Result {
    for batch in pages.chunks_mut(ZSTD_PAGES_MAX as usize) {
        resched();
        if zstd.skips_next() {
            write_pages(out, mm, index, batch)?;
            continue;
        }
        let count = batch.len() as u32;
        let (kind, len, bytes) = match zstd.compress(mm, batch)? {
            Packed::Frame(frame) => (
                SectionKind::ZstdPages,
                PagesHead::kept_len(count) + frame.len() as u64,
                frame,
            ),
            Packed::Raw(pages) => (SectionKind::Pages, PagesHead::payload_len(count), pages),
        };
        out.section(kind, len, |w, out| {
            put_head_and_addresses(w, out, index, batch);
            w.put(out, bytes);
        });
        out.error()?;
    }
    Ok(())
}

/// The memory areas whose pages a dump still needs, with their numbers in
/// its memory map: written later, from a forked copy of the process
/// ([`write_deferred`]).
pub(crate) struct DeferredPages {
    areas: KVVec<(u32, Area)>,
}

/// Writes the memory layout and map of the current process and, unless
/// `defer` and a forked copy would hold them all unchanged, the contents
/// of its pages; else returns what is left to write.
pub(super) fn write(out: &mut DumpFile, defer: bool) -> StepResult<Option<DeferredPages>> {
    let Some(mm) = CurrentMm::get() else {
        return Err(crate::failure::Failure::new(Step::Memory, EINVAL));
    };
    let mut paths = PathBuffer::new().at(Step::MemoryMap)?;
    let (layout, areas) = {
        let map = mm.mmap_read();
        let layout = layout(&map);
        let areas = areas(&map, &layout, &mut paths).at(Step::MemoryMap)?;
        (layout, areas)
    };
    out.section(SectionKind::Mm, MmLayout::SIZE as u64, |w, out| {
        layout.put(&mut |b| w.put(out, b))
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
    let with_contents = areas
        .into_iter()
        .zip(0u32..)
        .filter(|(a, _)| a.has_contents());
    let mut deferred = KVVec::new();
    for (area, i) in with_contents {
        deferred
            .push((i, area), GFP_KERNEL)
            .map_err(Error::from)
            .at(Step::Memory)?;
    }
    let deferred = DeferredPages { areas: deferred };
    if defer && deferred.areas.iter().all(|(_, a)| a.snapshot_by_fork()) {
        return Ok(Some(deferred));
    }
    write_deferred(out, &deferred)?;
    Ok(None)
}

/// Writes the contents of the pages of `deferred` from the current
/// process: the one they were found in, or a copy of it forked since.
pub(crate) fn write_deferred(out: &mut DumpFile, deferred: &DeferredPages) -> StepResult<()> {
    let Some(mm) = CurrentMm::get() else {
        return Err(crate::failure::Failure::new(Step::Memory, EINVAL));
    };
    let swap = mm.has_swap_entries();
    let mut zstd = out.take_compressor();
    let mut result = Ok(());
    for (i, area) in deferred.areas.iter() {
        let mut pages = match present_pages(&mm, area, swap) {
            Ok(pages) if pages.is_empty() => continue,
            Ok(pages) => pages,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        result = match zstd.as_deref_mut() {
            Some(zstd) => write_compressed_pages(out, &mm, *i, &mut pages, zstd),
            None => write_pages(out, &mm, *i, &mut pages),
        };
        if result.is_err() {
            break;
        }
    }
    out.give_back_compressor(zstd);
    result.at(Step::Memory)
}
