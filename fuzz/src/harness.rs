// SPDX-License-Identifier: GPL-2.0

//! What one input goes through: everything the kernel module and the tools
//! do with dump bytes and `/proc/chpox` lines, plus properties the decoders
//! must keep (a decoded record encodes back to its bytes, iterators yield
//! what the validation counted, a valid dump decodes everywhere). A panic
//! anywhere, overflow included, is a failure.

use crate::abi::checksum::Checksum;
use crate::abi::dump::{
    check_page_addresses, decode_files, decode_vmas, decode_zombies, elide, thread_flags, Clocks,
    Dump, DumpError, Header, MmLayout, PagesHead, ProcessInfo, QueuedSignal, ReadAt, Registers,
    RseqArea, SectionFrame, SectionKind, SectionWriter, SignalState, SleepRestart, ThreadInfo, Vma,
    WholeSection, Zombie, HEADER_SIZE, PAGE_SIZE, ROBUST_LIST_HEAD_SIZE, SECTION_HEAD,
    SECTION_TAIL, USER_END, XSTATE_MAX, XSTATE_MIN, ZSTD_FRAME_MAX, ZSTD_PAGES_MAX,
};
use crate::abi::ipc::{object_inode, PipeState, SocketState};
use crate::abi::registration::{check_path, entry_fields, parse_command, parse_entry, Sink};
use crate::abi::signal;
use std::vec::Vec;

/// Every section kind.
pub const KINDS: [SectionKind; 12] = [
    SectionKind::Process,
    SectionKind::Mm,
    SectionKind::Signals,
    SectionKind::Vmas,
    SectionKind::Pages,
    SectionKind::Files,
    SectionKind::Pipe,
    SectionKind::Socket,
    SectionKind::Clocks,
    SectionKind::Zombies,
    SectionKind::Thread,
    SectionKind::ZstdPages,
];

/// Slots of [`Outcome::decoded`]: one per kind number (the highest is
/// [`SectionKind::ZstdPages`]); those of the kinds version 3 retired (3
/// registers, 4 FPU, 11 restart, 13 rseq) count the records that were
/// their payloads and are in a thread's now, decoded alone.
pub const DECODERS: usize = SectionKind::ZstdPages as usize + 1;

/// The kernel's buffer for one [`SectionKind::ZstdPages`] section, read
/// whole, framing and checksum included (`rust/restore/memory.rs`).
pub const ZSTD_SECTION_MAX: u64 =
    SectionWriter::size(PagesHead::kept_len(ZSTD_PAGES_MAX) + ZSTD_FRAME_MAX);

/// `vm.mmap_min_addr`'s default, what the kernel checks the layout with.
pub const MMAP_MIN_ADDR: u64 = 65536;

/// How far one dump got.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// `Header::decode` accepted it.
    pub header: bool,
    /// `Dump::parse` accepted it.
    pub parsed: bool,
    /// `Dump::validate` accepted it.
    pub valid: bool,
    /// The kernel-like loader accepted process 0.
    pub loaded: bool,
    /// Valid for ld-chpox, refused by the kernel-like loader.
    pub valid_not_loaded: bool,
    /// Payloads each kind's decoder accepted (by kind number).
    pub decoded: [u32; DECODERS],
}

struct VecSink(Vec<u8>);

impl Sink for VecSink {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// The prctl check written again, differently, to hold
/// [`MmLayout::check_like_prctl`] to.
fn prctl_reference(m: &MmLayout, min: u64, task_size: u64) -> bool {
    let [start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start, env_end] =
        m.fields;
    let inside = |v: u64| min <= v && v < task_size;
    inside(start_code)
        && inside(end_code)
        && inside(start_data)
        && inside(end_data)
        && inside(start_brk)
        && inside(brk)
        && inside(start_stack)
        && inside(arg_start)
        && inside(arg_end)
        && inside(env_start)
        && inside(env_end)
        && start_code < end_code
        && start_data <= end_data
        && start_brk <= brk
        && arg_start <= arg_end
        && env_start <= env_end
}

/// Areas to check pages against when the dump's own map cannot be had.
const STAND_INS: [Vma<'static>; 3] = [
    Vma {
        start: 0,
        end: !(PAGE_SIZE - 1),
        offset: 0,
        prot: 3,
        flags: 0,
        path: b"",
        stamp: crate::abi::dump::FileStamp {
            size: 0,
            mtime_ns: 0,
        },
    },
    Vma {
        start: 0x60_0000,
        end: 0x60_4000,
        offset: 0,
        prot: 3,
        flags: 0,
        path: b"",
        stamp: crate::abi::dump::FileStamp {
            size: 0,
            mtime_ns: 0,
        },
    },
    // Reversed and unaligned, as a caller's bug could pass.
    Vma {
        start: u64::MAX,
        end: 1,
        offset: 0,
        prot: 0,
        flags: 0,
        path: b"",
        stamp: crate::abi::dump::FileStamp {
            size: 0,
            mtime_ns: 0,
        },
    },
];

/// Checks page addresses in pieces, as the kernel reads them, and whole;
/// both must agree.
fn addresses_in_pieces(addrs: &[u8], area: &Vma<'_>, piece: usize) {
    let whole = check_page_addresses(addrs, area, &mut None).is_ok();
    let mut prev = None;
    let mut pieces = true;
    let piece = piece.max(1) * 8;
    for chunk in addrs.chunks(piece) {
        if check_page_addresses(chunk, area, &mut prev).is_err() {
            pieces = false;
            break;
        }
    }
    assert_eq!(whole, pieces, "page addresses checked whole and in pieces");
}

/// Runs every decoder on `payload`, whatever its section's kind, and
/// checks what they accept. Returns whether the decoder of `kind` accepted
/// it.
pub fn decode_all(kind: u32, payload: &[u8], out: &mut Outcome) -> bool {
    let mut accepted = [false; DECODERS];
    if let Ok((info, cwd, exe)) = ProcessInfo::decode(payload) {
        accepted[1] = true;
        let mut again = Vec::from(info.encode(cwd, exe));
        again.extend_from_slice(cwd);
        again.extend_from_slice(exe);
        assert_eq!(again, payload, "ProcessInfo encodes back to its bytes");
        assert_eq!(ProcessInfo::payload_len(cwd, exe), payload.len() as u64);
        let _ = object_inode(exe);
    }
    if let Ok(m) = MmLayout::decode(payload) {
        accepted[2] = true;
        assert_eq!(
            m.auxv[MmLayout::AUXV - 2..],
            [0, 0],
            "auxv ends with AT_NULL"
        );
        assert!(m.fields.iter().all(|&v| v <= USER_END));
        for (min, size) in [
            (MMAP_MIN_ADDR, USER_END),
            (0, u64::MAX),
            (0, 0),
            (u64::MAX, u64::MAX),
            (m.fields[0], m.fields[10]),
            (PAGE_SIZE, USER_END + 1),
        ] {
            assert_eq!(
                m.check_like_prctl(min, size).is_ok(),
                prctl_reference(&m, min, size),
                "check_like_prctl({min:#x}, {size:#x}) of {:x?}",
                m.fields
            );
        }
    }
    if let Ok(r) = Registers::decode(payload) {
        accepted[3] = true;
        assert_eq!(r.encode()[..], *payload, "Registers encode back");
    }
    if let Ok((st, queued)) = SignalState::decode(payload) {
        accepted[5] = true;
        assert_eq!(
            queued.count() as u64,
            u64::from(st.queued),
            "queued signals"
        );
    }
    if let Ok(vmas) = decode_vmas(payload) {
        accepted[6] = true;
        let count = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        let mut n = 0u32;
        let mut prev_end = 0;
        for v in vmas {
            assert!(v.start < v.end && v.start >= prev_end, "areas sorted");
            prev_end = v.end;
            n += 1;
        }
        assert_eq!(n, count, "memory areas iterated as counted");
    }
    for (i, area) in STAND_INS.iter().enumerate() {
        if let Ok((head, addrs, pages)) = PagesHead::decode(payload, area) {
            accepted[7] = true;
            assert_eq!(addrs.len() as u64, u64::from(head.count) * 8);
            assert_eq!(pages.len() as u64, u64::from(head.count) * PAGE_SIZE);
            assert_eq!(PagesHead::payload_len(head.count), payload.len() as u64);
        }
        if let Ok((head, addrs, frame)) = PagesHead::decode_zstd(payload, area) {
            accepted[SectionKind::ZstdPages as usize] = true;
            assert!(
                (1..=ZSTD_PAGES_MAX).contains(&head.count),
                "zstd pages count"
            );
            assert_eq!(addrs.len() as u64, u64::from(head.count) * 8);
            assert!((1..=ZSTD_FRAME_MAX).contains(&(frame.len() as u64)));
            assert_eq!(
                PagesHead::kept_len(head.count) + frame.len() as u64,
                payload.len() as u64,
                "head, addresses and frame fill the payload"
            );
            // The kernel reads such a section whole into its buffer: one
            // that checks always fits.
            assert!(SectionWriter::size(payload.len() as u64) <= ZSTD_SECTION_MAX);
            check_page_addresses(addrs, area, &mut None).expect("addresses checked");
        }
        if payload.len() >= 8 {
            let limit = payload.len().min(8 + 64 * 8);
            let addrs = &payload[8..8 + (limit - 8) / 8 * 8];
            addresses_in_pieces(addrs, area, i + 2);
        }
    }
    if let Ok(files) = decode_files(payload) {
        accepted[8] = true;
        let count = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        let mut n = 0u32;
        for f in files {
            let _ = object_inode(f.path);
            assert!(f.encoded_len() >= f.path.len());
            n += 1;
        }
        assert_eq!(n, count, "open files iterated as counted");
    }
    if let Ok(p) = PipeState::decode(payload) {
        accepted[9] = true;
        assert!(p.data.len() as u64 <= u64::from(p.capacity));
        assert_eq!(
            PipeState::payload_len(p.data.len() as u64),
            payload.len() as u64
        );
    }
    if let Ok(s) = SocketState::decode(payload) {
        accepted[10] = true;
        assert_eq!(s.messages().count() as u64, u64::from(s.count), "messages");
        let _ = object_inode(s.name);
    }
    if let Ok(s) = SleepRestart::decode(payload) {
        accepted[11] = true;
        assert!(s.rmtp < USER_END);
    }
    if let Ok(c) = Clocks::decode(payload) {
        accepted[12] = true;
        assert_eq!(c.encode()[..], *payload, "Clocks encode back");
    }
    if let Ok(a) = RseqArea::decode(payload) {
        accepted[13] = true;
        assert!(u128::from(a.addr) + u128::from(a.len) <= u128::from(USER_END));
        assert_eq!(a.encode()[..], *payload, "RseqArea encodes back");
    }
    if let Ok(t) = ThreadInfo::decode(payload) {
        accepted[SectionKind::Thread as usize] = true;
        let info = &t.info;
        assert!(info.tid > 0 && info.flags & !thread_flags::ALL == 0);
        assert!(info.clear_child_tid < USER_END && info.robust_list < USER_END);
        assert!(info.robust_list_len == 0 || info.robust_list_len == ROBUST_LIST_HEAD_SIZE);
        assert!(info.robust_list == 0 || info.robust_list_len == ROBUST_LIST_HEAD_SIZE);
        assert_eq!(
            Registers::decode(&t.registers().encode()),
            Ok(t.registers())
        );
        assert_eq!(
            t.rseq().map(|a| RseqArea::decode(&a.encode())),
            t.rseq().map(Ok),
            "a thread's rseq area checks alone"
        );
        assert_eq!(
            t.sleep().map(|s| SleepRestart::decode(&s.encode())),
            t.sleep().map(Ok),
            "a thread's sleep checks alone"
        );
        assert!((XSTATE_MIN..=XSTATE_MAX).contains(&t.xstate.len()));
        let queued: Vec<QueuedSignal> = t.queued().collect();
        assert_eq!(
            ThreadInfo::payload_len(queued.len(), t.xstate.len()),
            payload.len() as u64,
            "a thread's signals and image fill its payload"
        );
        // Encoded again, it decodes to the same thread (the bytes may
        // differ in padding, which is not read: after the sleep's clock
        // and the image).
        let mut again = Vec::new();
        info.encode(&queued, t.xstate, &mut |x| again.extend_from_slice(x));
        assert_eq!(again.len(), payload.len());
        let back = ThreadInfo::decode(&again).expect("ThreadInfo encodes back");
        assert_eq!(back.info, *info, "ThreadInfo encodes back");
        assert_eq!(back.xstate, t.xstate);
        assert!(back.queued().eq(queued.iter().copied()));
    }
    if let Ok(zombies) = decode_zombies(payload) {
        accepted[14] = true;
        let mut n = 0;
        for z in zombies {
            let _ = z.outcome();
            n += 1;
        }
        assert_eq!(n * Zombie::SIZE, payload.len(), "exited children");
    }
    if let Some(head) = payload.get(..PagesHead::SIZE) {
        let head: &[u8; PagesHead::SIZE] = head.try_into().expect("8 bytes");
        let len = payload.len() as u64;
        for l in [len, len.wrapping_sub(1), len + 1, u64::MAX, 0] {
            assert_eq!(
                PagesHead::decode_head_of(SectionKind::Pages, head, l),
                PagesHead::decode_head(head, l)
            );
            let zstd = PagesHead::decode_zstd_head(head, l);
            assert_eq!(
                PagesHead::decode_head_of(SectionKind::ZstdPages, head, l),
                zstd
            );
            if let Ok(h) = zstd {
                assert!((1..=ZSTD_PAGES_MAX).contains(&h.count));
                let frame = l - PagesHead::kept_len(h.count);
                assert!((1..=ZSTD_FRAME_MAX).contains(&frame), "zstd frame length");
            }
        }
    }
    let _ = PagesHead::payload_len(u32::MAX);
    let _ = object_inode(payload);
    for (k, ok) in accepted.iter().enumerate() {
        if *ok {
            out.decoded[k] += 1;
        }
    }
    usize::try_from(kind)
        .ok()
        .and_then(|k| accepted.get(k).copied())
        .unwrap_or(false)
}

/// Reads `n` bytes at `pos` as the kernel's `DumpSource::read` does:
/// exactly, or fails.
fn read<'a>(bytes: &'a [u8], pos: &mut i64, n: u64) -> Option<&'a [u8]> {
    let at = usize::try_from(*pos).ok()?;
    let end = at.checked_add(usize::try_from(n).ok()?)?;
    let got = bytes.get(at..end)?;
    *pos = i64::try_from(end).ok()?;
    Some(got)
}

/// The kernel's `AreaCursor` (`rust/restore/memory.rs`): the areas of the
/// pages sections, in increasing order of area, the last one again for
/// several sections of one area, walking the map once.
struct AreaCursor<'a, I> {
    areas: I,
    next_index: u32,
    last: Option<Vma<'a>>,
}

impl<'a, I: Iterator<Item = Vma<'a>>> AreaCursor<'a, I> {
    fn area(&mut self, index: u32) -> Option<Vma<'a>> {
        if let Some(last) = self
            .last
            .filter(|_| index.checked_add(1) == Some(self.next_index))
        {
            return Some(last);
        }
        let skip = index.checked_sub(self.next_index)?;
        let area = self.areas.nth(skip as usize)?;
        self.next_index = index.checked_add(1)?;
        self.last = Some(area);
        Some(area)
    }
}

/// The kernel's `fill` of a [`SectionKind::Pages`] section at `frame_at`
/// of payload length `len`: streamed, the head, then the addresses
/// (checked against the area), then the pages, the checksum last.
fn kernel_fill<'a>(
    bytes: &[u8],
    areas: &mut AreaCursor<'a, impl Iterator<Item = Vma<'a>>>,
    frame_at: i64,
    len: u64,
) -> Option<()> {
    let mut pos = frame_at;
    let frame = read(bytes, &mut pos, SECTION_HEAD as u64)?;
    let head = read(bytes, &mut pos, 8)?;
    let mut checksum = Checksum::new();
    checksum.update(frame);
    checksum.update(head);
    let head = PagesHead::decode_head(head.try_into().ok()?, len).ok()?;
    let area = areas.area(head.vma)?;
    let count = u64::from(head.count);
    if count > (area.end - area.start) / PAGE_SIZE {
        return None;
    }
    let addrs = read(bytes, &mut pos, count * 8)?;
    checksum.update(addrs);
    check_page_addresses(addrs, &area, &mut None).ok()?;
    let data = read(bytes, &mut pos, count * PAGE_SIZE)?;
    checksum.update(data);
    if checksum.finish().to_le_bytes() != read(bytes, &mut pos, SECTION_TAIL as u64)? {
        return None;
    }
    Some(())
}

/// The kernel's `fill_compressed` of a [`SectionKind::ZstdPages`] section
/// at `frame_at` of payload length `len`: read whole into a buffer of
/// [`ZSTD_SECTION_MAX`] bytes, its checksum verified, its area found, its
/// payload decoded ([`PagesHead::decode_zstd`]). The frame would then be
/// decompressed into exactly `count` pages: here it is opaque, but the
/// buffers the kernel takes slices of are held to hold them.
fn kernel_fill_compressed<'a>(
    bytes: &[u8],
    areas: &mut AreaCursor<'a, impl Iterator<Item = Vma<'a>>>,
    frame_at: i64,
    len: u64,
) -> Option<()> {
    let total = SectionWriter::size(len);
    if total > ZSTD_SECTION_MAX {
        return None;
    }
    let mut pos = frame_at;
    let whole = WholeSection::split(read(bytes, &mut pos, total)?)?;
    if !whole.checksum_ok() {
        return None;
    }
    let payload = whole.payload();
    let index = payload.get(..4)?;
    let area = areas.area(u32::from_le_bytes(index.try_into().ok()?))?;
    let (head, addrs, frame) = PagesHead::decode_zstd(payload, &area).ok()?;
    // The kernel's pages buffer is ZSTD_PAGES_MAX pages, which it takes
    // `count` of and writes out an address at a time; its zstd context
    // is given the frame as it is.
    assert!(head.count <= ZSTD_PAGES_MAX, "pages past the buffer");
    assert_eq!(addrs.len() as u64, u64::from(head.count) * 8);
    assert!((1..=ZSTD_FRAME_MAX).contains(&(frame.len() as u64)));
    Some(())
}

/// The kernel's `DumpSource::load` and `fill` (`rust/restore`) over bytes
/// in memory, with the same checks in the same order: framing by
/// [`SectionFrame`], only process `index`'s sections read (and of its
/// Thread sections only number `thread`, the one the restore command
/// names), checksums verified, then the decoders the module installs
/// from, then the pages sections in file order, plain ones streamed,
/// compressed ones read whole.
pub fn kernel_load(bytes: &[u8], index: u32, thread: u32) -> Option<()> {
    const SECTION_MAX: u64 = 32 << 20;
    let mut pos = 0i64;
    let head = read(bytes, &mut pos, HEADER_SIZE as u64)?;
    let header = Header::decode(head).ok()?;
    if index >= header.processes {
        return None;
    }
    let end = i64::try_from(header.file_size).ok()?;
    let mut slots: [Option<&[u8]>; DECODERS] = [None; DECODERS];
    let mut pages = Vec::new();
    let mut threads_seen = 0u32;
    for _ in 0..header.sections {
        let frame_at = pos;
        let frame_bytes: [u8; SECTION_HEAD] = read(bytes, &mut pos, SECTION_HEAD as u64)?
            .try_into()
            .ok()?;
        let frame = SectionFrame::decode(&frame_bytes);
        let available = end.checked_sub(frame_at)?.max(0) as u64;
        let size = frame.size_within(available)?;
        let next = frame_at.checked_add(i64::try_from(size).ok()?)?;
        if frame.process != index {
            pos = next; // another process's, skipped unread
            continue;
        }
        let kind = SectionKind::from_u32(frame.kind)?;
        let slot = match kind {
            SectionKind::Pages | SectionKind::ZstdPages => {
                pages.push((frame_at, frame.len, kind == SectionKind::ZstdPages));
                pos = next;
                continue;
            }
            SectionKind::Thread => {
                let mine = threads_seen == thread;
                threads_seen = threads_seen.saturating_add(1);
                if !mine {
                    pos = next; // another thread's, skipped unread
                    continue;
                }
                &mut slots[kind as usize]
            }
            SectionKind::Process | SectionKind::Mm | SectionKind::Signals | SectionKind::Vmas => {
                &mut slots[kind as usize]
            }
            _ => {
                pos = next;
                continue;
            }
        };
        if frame.len > SECTION_MAX {
            return None;
        }
        let payload = read(bytes, &mut pos, frame.len)?;
        let tail = read(bytes, &mut pos, SECTION_TAIL as u64)?;
        let mut checksum = Checksum::new();
        checksum.update(&frame_bytes);
        checksum.update(payload);
        if checksum.finish().to_le_bytes() != tail || slot.replace(payload).is_some() {
            return None;
        }
    }
    if pos != end {
        return None;
    }
    let slot = |k: SectionKind| slots[k as usize];
    let (info, _, _) = ProcessInfo::decode(slot(SectionKind::Process)?).ok()?;
    if thread >= info.threads {
        return None;
    }
    let t = ThreadInfo::decode(slot(SectionKind::Thread)?).ok()?;
    // What the restore installs of the thread: every part checked.
    let _ = (t.registers(), t.rseq(), t.sleep(), t.xstate.len());
    let _ = t.queued().count();
    let _ = SignalState::decode(slot(SectionKind::Signals)?).ok()?;
    let vmas = slot(SectionKind::Vmas)?;
    let _ = decode_vmas(vmas).ok()?;
    let mm = MmLayout::decode(slot(SectionKind::Mm)?).ok()?;
    mm.check_like_prctl(MMAP_MIN_ADDR, USER_END).ok()?;
    let mut areas = AreaCursor {
        areas: decode_vmas(vmas).ok()?,
        next_index: 0,
        last: None,
    };
    for (frame_at, len, compressed) in pages {
        if compressed {
            kernel_fill_compressed(bytes, &mut areas, frame_at, len)?;
        } else {
            kernel_fill(bytes, &mut areas, frame_at, len)?;
        }
    }
    Some(())
}

/// A dump in memory read as ld-chpox reads its file.
struct InMemory<'a>(&'a [u8]);

impl ReadAt for InMemory<'_> {
    type Error = DumpError;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|at| self.0.get(at..)?.get(..buf.len()))
            .ok_or(DumpError::TooShort)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// ld-chpox's image of the dump `bytes` ([`elide`] from the bytes as
/// from a file), at most `limit` bytes.
pub fn elided_image(bytes: &[u8], limit: u64) -> Result<Vec<u8>, DumpError> {
    let mut image = VecSink(Vec::new());
    elide(&mut InMemory(bytes), bytes.len() as u64, &mut image, limit)?;
    Ok(image.0)
}

/// ld-chpox's way: the image without pages ([`elide`]), parsed and
/// validated, agrees with the whole file's `whole`: the same sections
/// (pages and zstd frames cut after their addresses), the same
/// validation. Where the whole file is refused but its image is not, that
/// is for the checksum of a pages section (of either kind), which only
/// the module verifies; where the image is refused but the whole file
/// parses, that is for a pages head, which validate() refuses in the
/// whole file.
fn elided_agrees(bytes: &[u8], whole: &Result<Dump<'_>, DumpError>, choice: u64) {
    // Now and then a limit the image may well pass.
    let limit = if choice % 5 == 0 { 4096 } else { u64::MAX };
    let len = bytes.len() as u64;
    let image = elided_image(bytes, limit);
    let lean = image
        .as_deref()
        .map_err(|&e| e)
        .and_then(|image| Dump::parse_elided(image, len));
    if let Ok(image) = &image {
        assert!(image.len() as u64 <= limit, "image past its limit");
    }
    match (whole, &lean) {
        (Ok(d), Ok(lean)) => {
            assert!(
                d.sections().count() == lean.sections().count(),
                "elided, other sections"
            );
            for (a, b) in d.sections().zip(lean.sections()) {
                assert_eq!((a.kind, a.process), (b.kind, b.process), "elided");
                if a.kind.has_pages() {
                    // Head and addresses kept, of the length the count gives.
                    let kept = a.payload.get(..b.payload.len());
                    assert!(kept == Some(b.payload), "elided, another payload");
                    let count = b.payload.get(4..8).map(|c| [c[0], c[1], c[2], c[3]]);
                    let kept = count.map(|c| PagesHead::kept_len(u32::from_le_bytes(c)));
                    assert_eq!(kept, Some(b.payload.len() as u64), "elided, cut elsewhere");
                } else {
                    assert!(a.payload == b.payload, "elided, another payload");
                }
            }
            assert_eq!(d.validate(), lean.validate(), "elided, validated otherwise");
        }
        // The image's walk checks the pages heads that validate() checks
        // of the whole file.
        (Ok(d), Err(e)) => assert!(
            limit != u64::MAX || d.validate().is_err(),
            "whole file valid, image refused: {e}"
        ),
        (Err(DumpError::SectionChecksum(i)), Ok(lean)) => {
            assert!(
                lean.sections()
                    .nth(*i as usize)
                    .is_some_and(|s| s.kind.has_pages()),
                "image parsed, whole file refused for section {i}"
            );
            // ld-chpox goes on with such a dump.
            let _ = lean.validate();
        }
        (Err(e), Ok(_)) => panic!("image parsed, whole file refused: {e}"),
        (Err(_), Err(_)) => {}
    }
}

/// Runs one dump through everything. `choice` varies what is tried.
pub fn dump(bytes: &[u8], choice: u64) -> Outcome {
    let mut out = Outcome {
        header: Header::decode(bytes).is_ok(),
        ..Default::default()
    };
    if let Ok(h) = Header::decode(bytes) {
        assert_eq!(Header::decode(&h.encode()), Ok(h), "header encodes back");
        let _ = h.release();
    }
    // Every payload whose framing fits, checksum or not.
    let mut at = HEADER_SIZE.min(bytes.len());
    let mut n = 0;
    while let Some(head) = bytes.get(at..at + SECTION_HEAD) {
        let frame = SectionFrame::decode(head.try_into().expect("16 bytes"));
        let available = (bytes.len() - at) as u64;
        let Some(size) = frame.size_within(available) else {
            assert!(
                u128::from(frame.len) + 20 > u128::from(available),
                "size_within refused a section that fits"
            );
            break;
        };
        assert_eq!(u128::from(size), u128::from(frame.len) + 20);
        let size = usize::try_from(size).expect("within the file");
        let payload = &bytes[at + SECTION_HEAD..at + size - SECTION_TAIL];
        if n < 256 {
            decode_all(frame.kind, payload, &mut out);
        }
        n += 1;
        at += size;
    }
    let processes = Header::decode(bytes).map_or(0, |h| h.processes);
    out.loaded = kernel_load(bytes, 0, 0).is_some();
    if processes > 1 || choice % 3 == 0 {
        // Another process, and a thread other than the leader (perhaps
        // past the last one).
        let p = (choice % u64::from(processes.max(1))) as u32;
        let _ = kernel_load(bytes, p, (choice / 7 % 5) as u32);
    }
    let whole = Dump::parse(bytes);
    elided_agrees(bytes, &whole, choice);
    let Ok(d) = whole else {
        return out;
    };
    out.parsed = true;
    assert_eq!(
        d.sections().count() as u64,
        u64::from(d.header.sections),
        "parsed sections as counted"
    );
    out.valid = d.validate().is_ok();
    out.valid_not_loaded = out.valid && !out.loaded;
    let _ = d.clocks();
    for p in 0..processes.min(8) {
        for kind in KINDS {
            let _ = d.only(p, kind);
            let _ = d.at_most_one(p, kind);
            let _ = d.sections_of(p, kind).count();
        }
        // Each thread, as ld-chpox and the kernel take it.
        let mut count = 0u32;
        for t in d.threads(p).take(64) {
            if out.valid {
                assert!(t.is_ok(), "valid dump, a thread refused");
            }
            count += 1;
        }
        let t = (choice % u64::from(count + 1)) as u32;
        let nth = d.thread(p, t);
        assert_eq!(
            nth.is_ok(),
            matches!(d.threads(p).nth(t as usize), Some(Ok(_))),
            "thread {t} of process {p} by number and in the list"
        );
        if out.valid {
            let info = ProcessInfo::decode(d.only(p, SectionKind::Process).unwrap().payload)
                .unwrap()
                .0;
            assert!(count == info.threads || count == 64, "threads as counted");
            let leader = d.thread(p, 0).expect("valid dump, no leader");
            assert_eq!(leader.info.tid, info.pid, "the first thread is the leader");
            assert!(d.thread(p, info.threads).is_err(), "a thread past the last");
        }
        if let Ok(z) = d.zombies(p) {
            z.for_each(|z| {
                let _ = z.outcome();
            });
        }
        // ld-chpox's way to the pages: the area a pages section names.
        let Ok(vmas) = d.only(p, SectionKind::Vmas) else {
            continue;
        };
        let Ok(vmas) = decode_vmas(vmas.payload) else {
            continue;
        };
        let pages_sections = d
            .sections()
            .filter(|s| s.process == p && s.kind.has_pages());
        for pages in pages_sections {
            let Some(index) = pages.payload.get(..4) else {
                continue;
            };
            let index = u32::from_le_bytes([index[0], index[1], index[2], index[3]]);
            if let Some(area) = vmas.clone().nth(index as usize) {
                let decoded = match pages.kind {
                    SectionKind::ZstdPages => PagesHead::decode_zstd(pages.payload, &area),
                    _ => PagesHead::decode(pages.payload, &area),
                };
                if out.valid {
                    assert!(decoded.is_ok(), "valid dump, {:?} refused", pages.kind);
                }
                let addresses = d.page_addresses(&pages, &area);
                assert_eq!(
                    addresses.ok(),
                    decoded.ok().map(|(head, addrs, _)| (head, addrs)),
                    "page_addresses decodes {:?} as its kind",
                    pages.kind
                );
                if let Ok((_, addrs, _)) = decoded {
                    addresses_in_pieces(addrs, &area, (choice % 7) as usize + 1);
                }
            }
        }
    }
    if out.valid {
        // What validate() accepted decodes, each section by its kind.
        // (Pages of either kind are decoded against their own areas
        // above, not the stand-ins.)
        for s in d.sections() {
            if s.kind.has_pages() {
                continue;
            }
            let mut scratch = Outcome::default();
            assert!(
                decode_all(s.kind as u32, s.payload, &mut scratch),
                "valid dump, its {:?} section of process {} refused",
                s.kind,
                s.process
            );
        }
    }
    out
}

/// Runs one `/proc/chpox` line (or signal name) through everything.
/// Returns whether it is a command the module accepts.
pub fn line(bytes: &[u8]) -> bool {
    let accepted = match parse_command(bytes) {
        Ok(command) => {
            let mut v = VecSink(Vec::new());
            command.encode(&mut v);
            assert_eq!(parse_command(&v.0), Ok(command), "command encodes back");
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    };
    let _ = entry_fields(bytes).count();
    if let Some(entry) = parse_entry(bytes) {
        let mut v = VecSink(Vec::new());
        entry.write(&mut v);
        assert_eq!(parse_entry(&v.0), Some(entry), "listing line writes back");
    }
    let _ = check_path(bytes);
    if let Ok(text) = core::str::from_utf8(bytes) {
        for word in core::iter::once(text).chain(text.split_ascii_whitespace()) {
            if let Some(n) = signal::parse(word) {
                let _ = signal::check_usable(n).map_err(|e| e.describe());
                if let Some(name) = signal::name(n) {
                    assert_eq!(signal::parse(name), Some(n), "signal name parses back");
                }
            }
        }
    }
    accepted
}
