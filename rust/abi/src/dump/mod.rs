// SPDX-License-Identifier: GPL-2.0

//! The dump file format, written by the module and read by `ld-chpox`.
//!
//! All integers are little-endian. A file is a [`Header`] of
//! [`HEADER_SIZE`] bytes followed by sections. A section is framed as
//!
//! ```text
//! kind: u32 | process: u32 | len: u64 | payload: len bytes | checksum: u32
//! ```
//!
//! where the checksum ([`Checksum`], the low half of XXH64) covers the 16
//! framing bytes and the payload, so a section can be written as it is
//! produced. The header, whose own checksum covers its first
//! `HEADER_SIZE - 4` bytes, is written last (at offset 0) because it records the number of sections and the file size: a file cut
//! short anywhere is detected. `process` numbers the processes of the dump
//! from 0; see `Documentation/dump-format.rst` for every payload.
//!
//! Every fixed-size record of a payload is declared once, with
//! `record!` (in `record.rs`) (see there); the files of this folder hold the
//! records of one resource each, as `rust/dump/` and `rust/restore/` of
//! the module do, and this file the framing that holds them together.

use super::checksum::Checksum;
use core::fmt;

#[macro_use]
pub mod record;

mod clocks;
mod elide;
mod files;
mod header;
pub mod ipc;
mod memory;
mod process;
mod registers;
mod signals;
mod thread;
mod zombies;

pub use clocks::Clocks;
pub use elide::{elide, ReadAt, SECTION_MAX};
pub use files::{decode_files, file_kind, files_head, OpenFile, OpenFileLens, OPEN_FILE_SIZE};
pub use header::{seal_header, Header, HeaderSeal, SectionFrame};
pub use memory::{
    check_page_addresses, decode_vmas, prot, vma_flags, vmas_head, FileStamp, ListHead, MmLayout,
    PagesHead, Vma, VmaLens, VMA_SIZE, ZSTD_FRAME_MAX, ZSTD_PAGES_MAX,
};
pub use process::{PathLengths, ProcessInfo, PROCESS_INFO_SIZE};
pub use registers::{Registers, RseqArea, SleepRestart};
pub use signals::{QueuedSignal, SigAction, SignalLens, SignalState};
pub use thread::{
    thread_flags, Thread, ThreadInfo, ThreadLens, ROBUST_LIST_HEAD_SIZE, THREADS_MAX, XSTATE_MAX,
    XSTATE_MIN,
};
pub use zombies::{decode_zombies, Zombie};

use ipc::{object_inode, PipeState, SocketState};

use super::sink::Sink;

/// First bytes of every dump.
pub const MAGIC: [u8; 8] = *b"CHPOXDMP";
/// Format version this code reads and writes (4: the checksum became
/// XXH64's low half, where version 3 had CRC-32C).
pub const VERSION: u32 = 4;
/// `AUDIT_ARCH_X86_64`: the only architecture chpox supports yet.
pub const ARCH_X86_64: u32 = 0xc000_003e;
/// Size of the header.
pub const HEADER_SIZE: usize = 128;
/// Bytes of framing before a section's payload.
pub const SECTION_HEAD: usize = 16;
/// Bytes of framing after it.
pub const SECTION_TAIL: usize = 4;
/// Page size of the dumped memory.
pub const PAGE_SIZE: u64 = 4096;
/// Longest kernel release string (`__NEW_UTS_LEN`).
pub const RELEASE_MAX: usize = 64;
/// First address above user space (x86_64, 4-level paging).
pub const USER_END: u64 = 0x7fff_ffff_f000;

/// Why a dump cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpError {
    /// Shorter than the header.
    TooShort,
    /// Not a chpox dump.
    BadMagic,
    /// Written by another format version.
    Version(u32),
    /// Written on another architecture.
    Arch(u32),
    /// The header's checksum does not match.
    HeaderChecksum,
    /// The file is not as long as its header says.
    Length {
        /// What the header says.
        expected: u64,
        /// What the file has.
        actual: u64,
    },
    /// Section `index` runs past the end of the file.
    SectionBounds(u32),
    /// Section `index` has a bad checksum.
    SectionChecksum(u32),
    /// Section `index` is of a kind this version does not know.
    SectionKind(u32),
    /// The header counts another number of sections than the file holds.
    SectionCount,
    /// A section's content is impossible (the text says which).
    Invalid(&'static str),
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DumpError::TooShort => f.write_str("file too short to be a chpox dump"),
            DumpError::BadMagic => f.write_str("not a chpox dump (bad magic)"),
            DumpError::Version(v) => {
                write!(
                    f,
                    "dump format version {v}, this ld-chpox reads version {VERSION}"
                )
            }
            DumpError::Arch(a) => {
                write!(f, "dump of another architecture ({a:#x}), this is x86_64")
            }
            DumpError::HeaderChecksum => f.write_str("header checksum mismatch (corrupted file)"),
            DumpError::Length { expected, actual } => write!(
                f,
                "file is {actual} bytes but the dump is {expected} bytes (truncated or extended)"
            ),
            DumpError::SectionBounds(i) => write!(f, "section {i} runs past the end of the file"),
            DumpError::SectionChecksum(i) => {
                write!(f, "section {i} checksum mismatch (corrupted file)")
            }
            DumpError::SectionKind(i) => write!(f, "section {i} is of an unknown kind"),
            DumpError::SectionCount => f.write_str("section count does not match the header"),
            DumpError::Invalid(what) => write!(f, "invalid dump: {what}"),
        }
    }
}

/// Little-endian reader over a byte slice that fails instead of panicking.
#[derive(Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DumpError> {
        if n > self.bytes.len() {
            return Err(DumpError::Invalid(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    /// The next `len` bytes, skipping the padding after them to a multiple
    /// of 8. `len` is read from the file: the padded length is checked.
    pub fn padded(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DumpError> {
        let total = len.checked_add(7).ok_or(DumpError::Invalid(what))? & !7;
        let bytes = self.take(total, what)?;
        bytes.get(..len).ok_or(DumpError::Invalid(what))
    }
    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DumpError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    /// A `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DumpError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// An `i32`.
    pub fn i32(&mut self, what: &'static str) -> Result<i32, DumpError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    /// A `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DumpError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}

/// What a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum SectionKind {
    /// [`ProcessInfo`] followed by its cwd and executable paths.
    Process = 1,
    /// [`MmLayout`].
    Mm = 2,
    /// Dispositions and the signals pending for the whole process
    /// ([`SignalState`]).
    Signals = 5,
    /// The memory map: [`Vma`] entries.
    Vmas = 6,
    /// Contents of the present pages of one memory area ([`PagesHead`]).
    Pages = 7,
    /// Open file descriptors.
    Files = 8,
    /// A pipe and its unread bytes ([`crate::ipc::PipeState`]), dump-wide.
    Pipe = 9,
    /// A unix socket and its queued messages ([`crate::ipc::SocketState`]),
    /// dump-wide.
    Socket = 10,
    /// The dumped processes' monotonic and boot clocks ([`Clocks`]),
    /// dump-wide.
    Clocks = 12,
    /// The process's children that had exited but were not waited for
    /// yet ([`Zombie`] entries), if it had any.
    Zombies = 14,
    /// One thread: [`ThreadInfo`], its queued signals, its XSAVE image.
    /// One per thread, the leader's first; kinds 3, 4, 11 and 13 of
    /// version 2 (registers, FPU, sleep, rseq of the only thread) are in
    /// it now.
    Thread = 15,
    /// Up to [`ZSTD_PAGES_MAX`] pages of one memory area, compressed
    /// ([`PagesHead`], addresses, one zstd frame): what a registration
    /// with [`crate::registration::FLAG_COMPRESS`] writes instead of
    /// [`SectionKind::Pages`]. An area may have several.
    ZstdPages = 16,
}

impl SectionKind {
    /// The kind numbered `n`.
    pub fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            1 => SectionKind::Process,
            2 => SectionKind::Mm,
            5 => SectionKind::Signals,
            6 => SectionKind::Vmas,
            7 => SectionKind::Pages,
            8 => SectionKind::Files,
            9 => SectionKind::Pipe,
            10 => SectionKind::Socket,
            12 => SectionKind::Clocks,
            14 => SectionKind::Zombies,
            15 => SectionKind::Thread,
            16 => SectionKind::ZstdPages,
            _ => return None,
        })
    }

    /// Whether it holds page contents ([`SectionKind::Pages`] or
    /// [`SectionKind::ZstdPages`]).
    pub fn has_pages(self) -> bool {
        matches!(self, SectionKind::Pages | SectionKind::ZstdPages)
    }
}

/// Writes one section: framing, payload in as many pieces as wanted, then
/// the checksum. The caller states the payload length up front.
pub struct SectionWriter {
    checksum: Checksum,
    remaining: u64,
}

impl SectionWriter {
    /// Starts a section of `len` payload bytes.
    pub fn begin(out: &mut dyn Sink, kind: SectionKind, process: u32, len: u64) -> Self {
        let kind = kind as u32;
        let head = SectionFrame { kind, process, len }.encode();
        let mut w = SectionWriter {
            checksum: Checksum::new(),
            remaining: len,
        };
        w.checksum.update(&head);
        out.put(&head);
        w
    }

    /// Appends payload bytes.
    pub fn put(&mut self, out: &mut dyn Sink, bytes: &[u8]) {
        self.account(bytes);
        out.put(bytes);
    }

    /// Counts payload bytes that the caller writes to the sink itself, in
    /// their place (after what was put so far): the dump writes page
    /// contents straight from the pages, bypassing the sink's buffer.
    pub fn account(&mut self, bytes: &[u8]) {
        self.remaining = self.remaining.wrapping_sub(bytes.len() as u64);
        self.checksum.update(bytes);
    }

    /// Ends the section. Returns false if the payload was not of the length
    /// given to [`SectionWriter::begin`] (the section is then corrupt).
    pub fn end(self, out: &mut dyn Sink) -> bool {
        out.put(&self.checksum.finish().to_le_bytes());
        self.remaining == 0
    }

    /// Size on disk of a section with `len` payload bytes (`len` is the
    /// writer's own, never a value read from a file: [`SectionFrame`]
    /// checks those; an impossible `len` saturates).
    pub const fn size(len: u64) -> u64 {
        len.saturating_add((SECTION_HEAD + SECTION_TAIL) as u64)
    }
}

/// One section of a parsed dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<'a> {
    /// What it holds.
    pub kind: SectionKind,
    /// Which process it belongs to.
    pub process: u32,
    /// Its payload.
    pub payload: &'a [u8],
    /// Offset of its framing in the file (the pages of an elided pages
    /// section are still there, after what the image kept).
    pub at: u64,
}

/// A dump whose header, framing and checksums have been verified.
#[derive(Debug, Clone, Copy)]
pub struct Dump<'a> {
    /// The header.
    pub header: Header,
    body: &'a [u8],
    /// Whether the pages sections are without their pages
    /// ([`Dump::parse_elided`]).
    elided: bool,
}

impl<'a> Dump<'a> {
    /// Checks the whole file: header, length, every section's bounds, kind,
    /// process number and checksum. Nothing is trusted before this passes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DumpError> {
        Self::parse_image(bytes, bytes.len() as u64, false)
    }

    /// Checks the image [`elide`] made of a file of `file_len` bytes: the
    /// file with every [`SectionKind::Pages`] section cut after its page
    /// addresses (its frame still states the full payload length; no pages,
    /// no checksum). Everything [`Dump::parse`] checks is checked, every
    /// bound against the real file, but the checksums of the pages
    /// sections, which the image has not: the module verifies them as it
    /// reads the pages, so that ld-chpox never reads page contents. The
    /// payload of a pages section of this dump is its head and addresses
    /// ([`PagesHead::decode_elided`]; [`Dump::page_addresses`] takes both
    /// forms).
    pub fn parse_elided(image: &'a [u8], file_len: u64) -> Result<Self, DumpError> {
        Self::parse_image(image, file_len, true)
    }

    /// [`Dump::parse`] or [`Dump::parse_elided`].
    fn parse_image(bytes: &'a [u8], file_len: u64, elided: bool) -> Result<Self, DumpError> {
        let header = Header::decode(bytes)?;
        if header.file_size != file_len || file_len < HEADER_SIZE as u64 {
            return Err(DumpError::Length {
                expected: header.file_size,
                actual: file_len,
            });
        }
        let dump = Dump {
            header,
            body: bytes.get(HEADER_SIZE..).ok_or(DumpError::TooShort)?,
            elided,
        };
        let mut count = 0u32;
        let mut iter = dump.walk(true);
        for section in &mut iter {
            let section = section?;
            if section.process >= header.processes {
                return Err(DumpError::Invalid("section of a process beyond the count"));
            }
            count = count.checked_add(1).ok_or(DumpError::SectionCount)?;
        }
        if count != header.sections {
            return Err(DumpError::SectionCount);
        }
        Ok(dump)
    }

    /// The sections in file order, their framing checked, and their
    /// checksums if `verify` (once is enough: the bytes cannot change).
    fn walk(&self, verify: bool) -> impl Iterator<Item = Result<Section<'a>, DumpError>> {
        let mut rest = self.body;
        // What the file has from the section at hand on: `rest.len()` but
        // for elided pages. `parse_image` checked the header's size.
        let file_size = self.header.file_size;
        let mut file_left = file_size.saturating_sub(HEADER_SIZE as u64);
        let elided = self.elided;
        let mut index = 0u32;
        core::iter::from_fn(move || {
            if rest.is_empty() && file_left == 0 {
                return None;
            }
            let i = index;
            index = index.wrapping_add(1);
            let at = file_size - file_left;
            let result = next_section(&mut rest, &mut file_left, elided, verify, i)
                .map(|section| Section { at, ..section });
            if result.is_err() {
                (rest, file_left) = (&[], 0);
            }
            Some(result)
        })
    }

    /// The pages section `pages` of this dump checked against its area:
    /// its head and its addresses, whether the pages are in the dump
    /// ([`PagesHead::decode`]) or were left out
    /// ([`PagesHead::decode_elided`]).
    pub fn page_addresses(
        &self,
        pages: &Section<'a>,
        area: &Vma<'_>,
    ) -> Result<(PagesHead, &'a [u8]), DumpError> {
        if self.elided {
            PagesHead::decode_elided(pages.payload, area)
        } else {
            PagesHead::decode_of(pages.kind, pages.payload, area)
                .map(|(head, addrs, _)| (head, addrs))
        }
    }

    /// The pages sections of process `p` (of both kinds), in file order,
    /// each with its memory area and its page addresses checked against it.
    pub fn pages_of(
        &self,
        p: u32,
    ) -> Result<impl Iterator<Item = Result<AreaPages<'a>, DumpError>> + '_, DumpError> {
        let vmas = decode_vmas(self.only(p, SectionKind::Vmas)?.payload)?;
        let pages = self
            .sections()
            .filter(move |s| s.process == p && s.kind.has_pages());
        Ok(pages.map(move |section| {
            let index = Reader::new(section.payload).u32("pages area")?;
            let area = vmas.clone().nth(index as usize).ok_or(DumpError::Invalid(
                "pages of a memory area that does not exist",
            ))?;
            let (head, addrs) = self.page_addresses(&section, &area)?;
            Ok(AreaPages {
                section,
                index,
                area,
                count: head.count,
                addrs,
            })
        }))
    }

    /// The sections, in file order.
    pub fn sections(&self) -> impl Iterator<Item = Section<'a>> + '_ {
        // `parse` has verified every section, checksums included: they are
        // not computed again on every look-up (`validate` makes hundreds).
        self.walk(false).filter_map(Result::ok)
    }

    /// The sections of one kind of one process.
    pub fn sections_of(
        &self,
        process: u32,
        kind: SectionKind,
    ) -> impl Iterator<Item = Section<'a>> + '_ {
        self.sections()
            .filter(move |s| s.process == process && s.kind == kind)
    }

    /// The section of a kind of a process if it has one; an error if it is
    /// repeated.
    pub fn at_most_one(
        &self,
        process: u32,
        kind: SectionKind,
    ) -> Result<Option<Section<'a>>, DumpError> {
        let mut it = self.sections_of(process, kind);
        let first = it.next();
        if first.is_some() && it.next().is_some() {
            return Err(DumpError::Invalid("a section appears twice"));
        }
        Ok(first)
    }

    /// The one section of a kind of a process; an error if it is missing or
    /// repeated.
    pub fn only(&self, process: u32, kind: SectionKind) -> Result<Section<'a>, DumpError> {
        let mut it = self.sections_of(process, kind);
        let first = it
            .next()
            .ok_or(DumpError::Invalid("a required section is missing"))?;
        if it.next().is_some() {
            return Err(DumpError::Invalid("a section appears twice"));
        }
        Ok(first)
    }
}

/// The section at the start of `rest`, of which the file has `file_left`
/// bytes from there on; `rest` and `file_left` are moved past it. Its
/// checksum is verified if `verify`. Pages sections are without their
/// pages if `elided`.
fn next_section<'a>(
    rest: &mut &'a [u8],
    file_left: &mut u64,
    elided: bool,
    verify: bool,
    i: u32,
) -> Result<Section<'a>, DumpError> {
    let bounds = DumpError::SectionBounds(i);
    let frame_bytes = rest.get(..SECTION_HEAD).ok_or(bounds)?;
    let frame = SectionFrame::decode(&Reader::new(frame_bytes).array("section framing")?);
    let total = frame.size_within(*file_left).ok_or(bounds)?;
    let pages = SectionKind::from_u32(frame.kind).filter(|k| k.has_pages());
    let (section, kept) = if let Some(kind) = pages.filter(|_| elided) {
        elided_pages(rest, &frame, kind, i)?
    } else {
        whole_section(rest, &frame, total, verify, i)?
    };
    *rest = rest.get(kept..).ok_or(bounds)?;
    *file_left -= total; // `total` is at most `file_left` (size_within)
    Ok(section)
}

/// A section as it is in the file, `total` bytes with its framing; and
/// the bytes it takes of `rest`.
fn whole_section<'a>(
    rest: &'a [u8],
    frame: &SectionFrame,
    total: u64,
    verify: bool,
    i: u32,
) -> Result<(Section<'a>, usize), DumpError> {
    let bounds = DumpError::SectionBounds(i);
    let total = usize::try_from(total).map_err(|_| bounds)?;
    let whole = WholeSection::split(rest.get(..total).ok_or(bounds)?).ok_or(bounds)?;
    if verify && !whole.checksum_ok() {
        return Err(DumpError::SectionChecksum(i));
    }
    let kind = SectionKind::from_u32(frame.kind).ok_or(DumpError::SectionKind(i))?;
    let section = Section {
        kind,
        process: frame.process,
        payload: whole.payload(),
        at: 0,
    };
    Ok((section, total))
}

/// A pages section with its memory area ([`Dump::pages_of`]).
#[derive(Debug, Clone, Copy)]
pub struct AreaPages<'a> {
    /// The section.
    pub section: Section<'a>,
    /// The index of its area in the memory map.
    pub index: u32,
    /// Its area.
    pub area: Vma<'a>,
    /// Its number of pages.
    pub count: u32,
    /// Their addresses, 8 bytes each, inside the area and increasing.
    pub addrs: &'a [u8],
}

/// A section as it is in a file, whole: framing, payload, checksum.
pub struct WholeSection<'a> {
    /// The framing and the payload.
    body: &'a [u8],
    checksum: u32,
}

impl<'a> WholeSection<'a> {
    /// The section that `bytes` are; `None` if they are too few for the
    /// framing and the checksum.
    pub fn split(bytes: &'a [u8]) -> Option<Self> {
        let body_len = bytes.len().checked_sub(SECTION_TAIL)?;
        let (body, tail) = bytes.split_at(body_len);
        body.get(SECTION_HEAD..)?;
        Some(WholeSection {
            body,
            checksum: u32::from_le_bytes(tail.try_into().ok()?),
        })
    }

    /// Whether the checksum is that of the framing and the payload.
    pub fn checksum_ok(&self) -> bool {
        Checksum::of(self.body) == self.checksum
    }

    /// The payload (not checked by itself).
    pub fn payload(&self) -> &'a [u8] {
        self.body.get(SECTION_HEAD..).unwrap_or_default()
    }
}

/// A pages section of `kind` of an elided image: its frame, head and
/// addresses, the frame's length one the head's count allows. There is no
/// checksum to verify: the module does as it reads the pages. Returns the
/// section (its payload the head and addresses) and the bytes it takes of
/// `rest`.
fn elided_pages<'a>(
    rest: &'a [u8],
    frame: &SectionFrame,
    kind: SectionKind,
    i: u32,
) -> Result<(Section<'a>, usize), DumpError> {
    let bounds = DumpError::SectionBounds(i);
    let mut r = Reader::new(rest.get(SECTION_HEAD..).ok_or(bounds)?);
    let head = PagesHead::decode_head_of(kind, &r.array("pages head")?, frame.len)?;
    let kept = PagesHead::kept_len(head.count)
        .checked_add(SECTION_HEAD as u64)
        .and_then(|k| usize::try_from(k).ok())
        .ok_or(bounds)?;
    let payload = rest.get(SECTION_HEAD..kept).ok_or(bounds)?;
    let section = Section {
        kind,
        process: frame.process,
        payload,
        at: 0,
    };
    Ok((section, kept))
}

/// `n` rounded up to a multiple of 8 (`n` is the writer's own length).
pub(crate) const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// The zero bytes that pad `len` bytes to a multiple of 8.
pub(crate) fn padding(len: usize) -> &'static [u8] {
    [0u8; 8].get(..len.wrapping_neg() & 7).unwrap_or(&[])
}

/// Appends `bytes` padded to a multiple of 8: a path or name after its
/// record.
pub(crate) fn put_padded(out: &mut dyn FnMut(&[u8]), bytes: &[u8]) {
    out(bytes);
    out(padding(bytes.len()));
}

/// Sections every process of a dump has exactly once.
pub const REQUIRED: [SectionKind; 5] = [
    SectionKind::Process,
    SectionKind::Mm,
    SectionKind::Signals,
    SectionKind::Vmas,
    SectionKind::Files,
];

impl<'a> Dump<'a> {
    /// Decodes every section of every process and checks them against each
    /// other: each required section once, pages inside their memory areas,
    /// each page at most once (the pages of a process, across its pages
    /// sections, in increasing order of address). A dump that passes can be
    /// restored without meeting an impossible value.
    pub fn validate(&self) -> Result<(), DumpError> {
        for p in 0..self.header.processes {
            for kind in REQUIRED {
                self.only(p, kind)?;
            }
            let (info, _, _) = ProcessInfo::decode(self.only(p, SectionKind::Process)?.payload)?;
            MmLayout::decode(self.only(p, SectionKind::Mm)?.payload)?;
            self.validate_threads(p, &info)?;
            let _ = SignalState::decode(self.only(p, SectionKind::Signals)?.payload)?;
            let _ = decode_files(self.only(p, SectionKind::Files)?.payload)?;
            let _ = self.zombies(p)?;
            let (mut last_area, mut last_page) = (None, None);
            for pages in self.pages_of(p)? {
                let AreaPages { index, addrs, .. } = pages?;
                // Areas in order even where a section has no page.
                if last_area.is_some_and(|l| index < l) {
                    return Err(DumpError::Invalid("page sections unsorted or repeated"));
                }
                last_area = Some(index);
                let first = addrs.get(..8).map(|a| Reader::new(a).u64("page address"));
                if let (Some(first), Some(last)) = (first.transpose()?, last_page) {
                    if first <= last {
                        return Err(DumpError::Invalid("page sections unsorted or repeated"));
                    }
                }
                if let Some(l) = addrs.len().checked_sub(8).and_then(|at| addrs.get(at..)) {
                    last_page = Some(Reader::new(l).u64("page address")?);
                }
            }
        }
        self.validate_tree()?;
        self.validate_ipc()?;
        self.clocks().map(|_| ())
    }

    /// The threads of process `p`, the leader first, each decoded and
    /// checked.
    pub fn threads(&self, p: u32) -> impl Iterator<Item = Result<Thread<'a>, DumpError>> + '_ {
        self.sections_of(p, SectionKind::Thread)
            .map(|s| ThreadInfo::decode(s.payload))
    }

    /// Thread `t` of process `p`.
    pub fn thread(&self, p: u32, t: u32) -> Result<Thread<'a>, DumpError> {
        self.threads(p)
            .nth(t as usize)
            .unwrap_or(Err(DumpError::Invalid("a thread is missing")))
    }

    /// Process `p` has as many threads as its identity says (at most
    /// [`THREADS_MAX`]), with distinct ids, the first of them its leader.
    fn validate_threads(&self, p: u32, info: &ProcessInfo) -> Result<(), DumpError> {
        if info.threads > THREADS_MAX {
            return Err(DumpError::Invalid("too many threads"));
        }
        let mut count = 0u32;
        for (i, thread) in self.threads(p).enumerate() {
            let tid = thread?.info.tid;
            let leader = i == 0;
            if leader != (tid == info.pid) {
                return Err(DumpError::Invalid("the first thread is not the leader"));
            }
            if self
                .threads(p)
                .take(i)
                .any(|t| t.is_ok_and(|t| t.info.tid == tid))
            {
                return Err(DumpError::Invalid("two threads with the same id"));
            }
            count += 1;
            if count > info.threads {
                break;
            }
        }
        if count != info.threads {
            return Err(DumpError::Invalid(
                "the number of threads does not match the process",
            ));
        }
        Ok(())
    }

    /// The exited children process `p` had not waited for (none if it has
    /// no such section).
    pub fn zombies(&self, p: u32) -> Result<impl Iterator<Item = Zombie> + Clone + '_, DumpError> {
        let payload = self
            .at_most_one(p, SectionKind::Zombies)?
            .map_or(&[][..], |s| s.payload);
        decode_zombies(payload)
    }

    /// The dump's [`Clocks`] section, if it has one (older dumps do not).
    pub fn clocks(&self) -> Result<Option<Clocks>, DumpError> {
        let mut all = self.sections().filter(|s| s.kind == SectionKind::Clocks);
        let Some(section) = all.next() else {
            return Ok(None);
        };
        if section.process != 0 || all.next().is_some() {
            return Err(DumpError::Invalid(
                "a clocks section repeated or not of process 0",
            ));
        }
        Clocks::decode(section.payload).map(Some)
    }

    /// The processes form one tree: distinct pids, process 0 its root, every
    /// other process's parent an earlier process of the dump.
    fn validate_tree(&self) -> Result<(), DumpError> {
        let info = |p: u32| -> Result<ProcessInfo, DumpError> {
            Ok(ProcessInfo::decode(self.only(p, SectionKind::Process)?.payload)?.0)
        };
        for p in 0..self.header.processes {
            let me = info(p)?;
            let mut parent_found = p == 0;
            for q in 0..p {
                let other = info(q)?;
                if other.pid == me.pid {
                    return Err(DumpError::Invalid("two processes with the same pid"));
                }
                parent_found |= other.pid == me.ppid;
            }
            if !parent_found {
                return Err(DumpError::Invalid(
                    "a process whose parent is not an earlier process of the dump",
                ));
            }
        }
        Ok(())
    }

    /// Every section of `kind` (pipes, sockets) decodes, is of process 0
    /// and names its object (`inode` of its payload) once.
    fn each_once(
        &self,
        kind: SectionKind,
        inode: fn(&[u8]) -> Result<u64, DumpError>,
        not_process_0: &'static str,
        twice: &'static str,
    ) -> Result<(), DumpError> {
        let all = || self.sections().filter(move |s| s.kind == kind);
        for (i, section) in all().enumerate() {
            let me = inode(section.payload)?;
            if section.process != 0 {
                return Err(DumpError::Invalid(not_process_0));
            }
            if all().take(i).any(|o| inode(o.payload) == Ok(me)) {
                return Err(DumpError::Invalid(twice));
            }
        }
        Ok(())
    }

    /// Pipes and sockets: dump-wide, each once; descriptors sharing an open
    /// file agree on what it is; every pipe descriptor has its pipe.
    fn validate_ipc(&self) -> Result<(), DumpError> {
        let pipes = || self.sections().filter(|s| s.kind == SectionKind::Pipe);
        self.each_once(
            SectionKind::Pipe,
            |p| PipeState::decode(p).map(|s| s.inode),
            "a pipe section not of process 0",
            "a pipe appears twice",
        )?;
        self.each_once(
            SectionKind::Socket,
            |p| SocketState::decode(p).map(|s| s.inode),
            "a socket section not of process 0",
            "a socket appears twice",
        )?;
        let files = |p: u32| -> Result<_, DumpError> {
            decode_files(self.only(p, SectionKind::Files)?.payload)
        };
        for p in 0..self.header.processes {
            for f in files(p)? {
                if f.kind == file_kind::PIPE {
                    let has_pipe = object_inode(f.path).is_some_and(|ino| {
                        pipes().any(|s| PipeState::decode(s.payload).is_ok_and(|s| s.inode == ino))
                    });
                    if !has_pipe && f.path.first() != Some(&b'/') {
                        return Err(DumpError::Invalid("a pipe descriptor without its pipe"));
                    }
                }
                if f.id == 0 {
                    continue;
                }
                for q in 0..=p {
                    if files(q)?.any(|g| g.id == f.id && (g.kind, g.path) != (f.kind, f.path)) {
                        return Err(DumpError::Invalid(
                            "descriptors of one open file disagree on what it is",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads a payload that is exactly one record; `what` is the error if it
/// is shorter or longer.
pub(crate) fn exact<T: record::Field>(payload: &[u8], what: &'static str) -> Result<T, DumpError> {
    let mut r = Reader::new(payload);
    let v = T::get(&mut r, what).map_err(|_| DumpError::Invalid(what))?;
    if !r.rest().is_empty() {
        return Err(DumpError::Invalid(what));
    }
    Ok(v)
}

#[cfg(test)]
mod doc_tables;
#[cfg(test)]
mod elide_tests;
#[cfg(test)]
pub(crate) mod round_trip;
#[cfg(test)]
mod tests;
