// SPDX-License-Identifier: GPL-2.0

//! The dump file format, written by the module and read by `ld-chpox`.
//!
//! All integers are little-endian. A file is a [`Header`] of
//! [`HEADER_SIZE`] bytes followed by sections. A section is framed as
//!
//! ```text
//! kind: u32 | process: u32 | len: u64 | payload: len bytes | crc32c: u32
//! ```
//!
//! where the CRC-32C covers the 16 framing bytes and the payload, so a
//! section can be written as it is produced. The header, whose own checksum
//! covers its first `HEADER_SIZE - 4` bytes, is written last (at offset 0)
//! because it records the number of sections and the file size: a file cut
//! short anywhere is detected. `process` numbers the processes of the dump
//! from 0; see `Documentation/dump-format.rst` for every payload.

use super::crc32c::Crc32c;
use super::ipc::{object_inode, PipeState, SocketState};
use super::sink::Sink;
use core::fmt;

/// First bytes of every dump.
pub const MAGIC: [u8; 8] = *b"CHPOXDMP";
/// Format version this code reads and writes.
pub const VERSION: u32 = 2;
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

/// The dump header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// [`ARCH_X86_64`].
    pub arch: u32,
    /// Creation time, seconds since the epoch (CLOCK_REALTIME).
    pub created_sec: u64,
    /// Nanoseconds part of the creation time.
    pub created_nsec: u32,
    /// Number of processes.
    pub processes: u32,
    /// Number of sections after the header.
    pub sections: u32,
    /// `uname -r` of the kernel that wrote the dump, NUL-padded.
    pub release: [u8; RELEASE_MAX],
    /// Size of the whole file.
    pub file_size: u64,
}

impl Header {
    /// The kernel release as bytes, without padding.
    pub fn release(&self) -> &[u8] {
        let n = self
            .release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(RELEASE_MAX);
        &self.release[..n]
    }

    /// The encoded header.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.arch.to_le_bytes());
        b[16..24].copy_from_slice(&self.created_sec.to_le_bytes());
        b[24..28].copy_from_slice(&self.created_nsec.to_le_bytes());
        b[28..32].copy_from_slice(&self.processes.to_le_bytes());
        b[32..36].copy_from_slice(&self.sections.to_le_bytes());
        b[36..100].copy_from_slice(&self.release);
        b[104..112].copy_from_slice(&self.file_size.to_le_bytes());
        let crc = Crc32c::of(&b[..HEADER_SIZE - 4]);
        b[HEADER_SIZE - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header.
    pub fn decode(b: &[u8]) -> Result<Header, DumpError> {
        if b.len() < HEADER_SIZE {
            return Err(DumpError::TooShort);
        }
        let mut r = Reader::new(&b[..HEADER_SIZE]);
        if r.array::<8>("magic")? != MAGIC {
            return Err(DumpError::BadMagic);
        }
        let version = r.u32("version")?;
        if version != VERSION {
            return Err(DumpError::Version(version));
        }
        let crc = u32::from_le_bytes([b[124], b[125], b[126], b[127]]);
        if crc != Crc32c::of(&b[..HEADER_SIZE - 4]) {
            return Err(DumpError::HeaderChecksum);
        }
        let arch = r.u32("arch")?;
        if arch != ARCH_X86_64 {
            return Err(DumpError::Arch(arch));
        }
        let header = Header {
            arch,
            created_sec: r.u64("time")?,
            created_nsec: r.u32("time")?,
            processes: r.u32("process count")?,
            sections: r.u32("section count")?,
            release: r.array("release")?,
            file_size: {
                r.take(4, "padding")?;
                r.u64("file size")?
            },
        };
        if header.created_nsec >= 1_000_000_000 {
            return Err(DumpError::Invalid("creation time nanoseconds out of range"));
        }
        if header.processes == 0 {
            return Err(DumpError::Invalid("no process in the dump"));
        }
        Ok(header)
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
    /// General registers: [`Registers`].
    Registers = 3,
    /// The FPU/SSE/AVX state, an XSAVE image in the user ABI format.
    Fpu = 4,
    /// Dispositions, masks, alternate stack, pending signals.
    Signals = 5,
    /// The memory map: [`Vma`] entries.
    Vmas = 6,
    /// Contents of the present pages of one memory area.
    Pages = 7,
    /// Open file descriptors.
    Files = 8,
    /// A pipe and its unread bytes ([`crate::ipc::PipeState`]), dump-wide.
    Pipe = 9,
    /// A unix socket and its queued messages ([`crate::ipc::SocketState`]),
    /// dump-wide.
    Socket = 10,
    /// A sleep to go on with after restore ([`SleepRestart`]), if the
    /// process was in one.
    Restart = 11,
    /// The dumped processes' monotonic and boot clocks ([`Clocks`]),
    /// dump-wide.
    Clocks = 12,
    /// The process's registered restartable-sequences area ([`RseqArea`]),
    /// if it has one (glibc registers one for every thread).
    Rseq = 13,
    /// The process's children that had exited but were not waited for
    /// yet ([`Zombie`] entries), if it had any.
    Zombies = 14,
}

impl SectionKind {
    /// The kind numbered `n`.
    pub fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            1 => SectionKind::Process,
            2 => SectionKind::Mm,
            3 => SectionKind::Registers,
            4 => SectionKind::Fpu,
            5 => SectionKind::Signals,
            6 => SectionKind::Vmas,
            7 => SectionKind::Pages,
            8 => SectionKind::Files,
            9 => SectionKind::Pipe,
            10 => SectionKind::Socket,
            11 => SectionKind::Restart,
            12 => SectionKind::Clocks,
            13 => SectionKind::Rseq,
            14 => SectionKind::Zombies,
            _ => return None,
        })
    }
}

/// Writes one section: framing, payload in as many pieces as wanted, then
/// the checksum. The caller states the payload length up front.
pub struct SectionWriter {
    crc: Crc32c,
    remaining: u64,
}

impl SectionWriter {
    /// Starts a section of `len` payload bytes.
    pub fn begin(out: &mut dyn Sink, kind: SectionKind, process: u32, len: u64) -> Self {
        let mut head = [0u8; SECTION_HEAD];
        head[0..4].copy_from_slice(&(kind as u32).to_le_bytes());
        head[4..8].copy_from_slice(&process.to_le_bytes());
        head[8..16].copy_from_slice(&len.to_le_bytes());
        let mut w = SectionWriter {
            crc: Crc32c::new(),
            remaining: len,
        };
        w.crc.update(&head);
        out.put(&head);
        w
    }

    /// Appends payload bytes.
    pub fn put(&mut self, out: &mut dyn Sink, bytes: &[u8]) {
        self.remaining = self.remaining.wrapping_sub(bytes.len() as u64);
        self.crc.update(bytes);
        out.put(bytes);
    }

    /// Ends the section. Returns false if the payload was not of the length
    /// given to [`SectionWriter::begin`] (the section is then corrupt).
    pub fn end(self, out: &mut dyn Sink) -> bool {
        out.put(&self.crc.finish().to_le_bytes());
        self.remaining == 0
    }

    /// Size on disk of a section with `len` payload bytes (`len` is the
    /// writer's own, never a value read from a file: [`SectionFrame`]
    /// checks those; an impossible `len` saturates).
    pub const fn size(len: u64) -> u64 {
        len.saturating_add((SECTION_HEAD + SECTION_TAIL) as u64)
    }
}

/// The framing in front of a section's payload, as read from a file: every
/// reader of sections (the whole-file [`Dump::parse`] and the kernel's
/// streaming reader) decodes it here, so the arithmetic on its length is
/// checked in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionFrame {
    /// The raw kind number ([`SectionKind::from_u32`] names it).
    pub kind: u32,
    /// Which process it belongs to.
    pub process: u32,
    /// Payload length.
    pub len: u64,
}

impl SectionFrame {
    /// Decodes the [`SECTION_HEAD`] bytes in front of a payload.
    pub fn decode(head: &[u8; SECTION_HEAD]) -> SectionFrame {
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        SectionFrame {
            kind: word(0),
            process: word(4),
            len: u64::from(word(8)) | u64::from(word(12)) << 32,
        }
    }

    /// Bytes the whole section takes (framing, payload, checksum), if that
    /// fits in `available` bytes; `None` when it runs past them.
    pub fn size_within(&self, available: u64) -> Option<u64> {
        let size = self.len.checked_add((SECTION_HEAD + SECTION_TAIL) as u64)?;
        (size <= available).then_some(size)
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
}

/// A dump whose header, framing and checksums have been verified.
#[derive(Debug, Clone, Copy)]
pub struct Dump<'a> {
    /// The header.
    pub header: Header,
    body: &'a [u8],
}

impl<'a> Dump<'a> {
    /// Checks the whole file: header, length, every section's bounds, kind,
    /// process number and checksum. Nothing is trusted before this passes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DumpError> {
        let header = Header::decode(bytes)?;
        if header.file_size != bytes.len() as u64 {
            return Err(DumpError::Length {
                expected: header.file_size,
                actual: bytes.len() as u64,
            });
        }
        let dump = Dump {
            header,
            body: &bytes[HEADER_SIZE..],
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
        let mut index = 0u32;
        core::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let i = index;
            index = index.wrapping_add(1);
            let result = (|| {
                if rest.len() < SECTION_HEAD + SECTION_TAIL {
                    return Err(DumpError::SectionBounds(i));
                }
                let frame = SectionFrame::decode(&Reader::new(rest).array("section framing")?);
                let total = frame
                    .size_within(rest.len() as u64)
                    .ok_or(DumpError::SectionBounds(i))? as usize;
                let (kind, process) = (frame.kind, frame.process);
                let body = &rest[..total - SECTION_TAIL];
                let tail = &rest[total - SECTION_TAIL..total];
                if verify
                    && Crc32c::of(body) != u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]])
                {
                    return Err(DumpError::SectionChecksum(i));
                }
                let kind = SectionKind::from_u32(kind).ok_or(DumpError::SectionKind(i))?;
                let section = Section {
                    kind,
                    process,
                    payload: &body[SECTION_HEAD..],
                };
                rest = &rest[total..];
                Ok(section)
            })();
            if result.is_err() {
                rest = &[];
            }
            Some(result)
        })
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

/// Identity and credentials of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// Process id, in the checkpointed process's pid namespace.
    pub pid: i32,
    /// Parent's pid.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Real, effective, saved and filesystem uids.
    pub uids: [u32; 4],
    /// Real, effective, saved and filesystem gids.
    pub gids: [u32; 4],
    /// File creation mask.
    pub umask: u32,
    /// Number of threads.
    pub threads: u32,
    /// `comm`, NUL-padded.
    pub comm: [u8; 16],
}

/// Size of the fixed part of a [`SectionKind::Process`] payload.
pub const PROCESS_INFO_SIZE: usize = 80;

impl ProcessInfo {
    /// Writes the payload: the fixed part, then the cwd and executable paths.
    pub fn encode(&self, cwd: &[u8], exe: &[u8]) -> [u8; PROCESS_INFO_SIZE] {
        let mut b = [0u8; PROCESS_INFO_SIZE];
        let words = [self.pid, self.ppid, self.pgid, self.sid];
        for (i, w) in words.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        for i in 0..4 {
            b[16 + i * 4..20 + i * 4].copy_from_slice(&self.uids[i].to_le_bytes());
            b[32 + i * 4..36 + i * 4].copy_from_slice(&self.gids[i].to_le_bytes());
        }
        b[48..52].copy_from_slice(&self.umask.to_le_bytes());
        b[52..56].copy_from_slice(&self.threads.to_le_bytes());
        b[56..72].copy_from_slice(&self.comm);
        b[72..76].copy_from_slice(&(cwd.len() as u32).to_le_bytes());
        b[76..80].copy_from_slice(&(exe.len() as u32).to_le_bytes());
        b
    }

    /// Length of the payload for these paths.
    pub fn payload_len(cwd: &[u8], exe: &[u8]) -> u64 {
        PROCESS_INFO_SIZE as u64 + cwd.len() as u64 + exe.len() as u64
    }

    /// Reads a payload: the info, the cwd and the executable path.
    pub fn decode(payload: &[u8]) -> Result<(ProcessInfo, &[u8], &[u8]), DumpError> {
        let mut r = Reader::new(payload);
        let mut p = ProcessInfo {
            pid: r.i32("pid")?,
            ppid: r.i32("ppid")?,
            pgid: r.i32("pgid")?,
            sid: r.i32("sid")?,
            ..Default::default()
        };
        for u in &mut p.uids {
            *u = r.u32("uid")?;
        }
        for g in &mut p.gids {
            *g = r.u32("gid")?;
        }
        p.umask = r.u32("umask")?;
        p.threads = r.u32("threads")?;
        p.comm = r.array("comm")?;
        let cwd_len = r.u32("cwd length")? as usize;
        let exe_len = r.u32("exe length")? as usize;
        let cwd = r.take(cwd_len, "cwd")?;
        let exe = r.take(exe_len, "exe")?;
        if !r.rest().is_empty() {
            return Err(DumpError::Invalid("process section too long"));
        }
        if p.pid <= 0 || p.umask > 0o777 || p.threads == 0 {
            return Err(DumpError::Invalid("impossible process identity"));
        }
        if cwd.first() != Some(&b'/') || cwd.contains(&0) {
            return Err(DumpError::Invalid("cwd is not an absolute path"));
        }
        Ok((p, cwd, exe))
    }
}

/// A child that has exited and waits for its parent's `wait()`: its pid and
/// the status `wait()` will report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zombie {
    /// Its pid.
    pub pid: i32,
    /// The wait status: exit code << 8, or the killing signal (| 0x80 if it
    /// dumped core).
    pub status: i32,
}

impl Zombie {
    /// Size of one entry.
    pub const SIZE: usize = 8;
    /// Most entries in one section: more unreaped children than this is
    /// a leak, not a state worth restoring.
    pub const MAX: usize = 4096;

    /// One entry.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..8].copy_from_slice(&self.status.to_le_bytes());
        b
    }

    /// The exit code, if it exited; else the signal that killed it.
    pub fn outcome(&self) -> Result<u8, u8> {
        match self.status & 0x7f {
            0 => Ok((self.status >> 8) as u8),
            sig => Err(sig as u8),
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DumpError> {
        let z = Zombie {
            pid: r.i32("zombie pid")?,
            status: r.i32("zombie status")?,
        };
        let signal = z.status & 0x7f;
        // Killed by a signal whose default action kills (not SIGCHLD,
        // SIGCONT, the stop signals, SIGURG, SIGWINCH).
        let kills = |s: i32| s <= 64 && !matches!(s, 17..=23 | 28);
        let valid = if signal == 0 {
            z.status & !0xff00 == 0
        } else {
            kills(signal) && z.status & !0xff == 0
        };
        if z.pid <= 0 || z.pid > PID_MAX_LIMIT || !valid {
            return Err(DumpError::Invalid("impossible exited child"));
        }
        Ok(z)
    }
}

/// The largest pid Linux hands out.
const PID_MAX_LIMIT: i32 = 1 << 22;

/// Reads a [`SectionKind::Zombies`] payload, checked whole first: at most
/// [`Zombie::MAX`] entries, sorted by pid, each pid once.
pub fn decode_zombies(
    payload: &[u8],
) -> Result<impl Iterator<Item = Zombie> + Clone + '_, DumpError> {
    if payload.len() % Zombie::SIZE != 0 || payload.len() > Zombie::MAX * Zombie::SIZE {
        return Err(DumpError::Invalid("exited-children section of a bad size"));
    }
    let mut check = Reader::new(payload);
    let mut prev = 0;
    for _ in 0..payload.len() / Zombie::SIZE {
        let z = Zombie::decode(&mut check)?;
        if z.pid <= prev {
            return Err(DumpError::Invalid("exited children unsorted or repeated"));
        }
        prev = z.pid;
    }
    let mut r = Reader::new(payload);
    Ok((0..payload.len() / Zombie::SIZE).map_while(move |_| Zombie::decode(&mut r).ok()))
}

/// A relative `nanosleep()`/`clock_nanosleep()` the process was in, which
/// the kernel continues through `restart_syscall`: the restored process
/// sleeps for the time that was left, as after a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SleepRestart {
    /// `CLOCK_REALTIME` (0), `CLOCK_MONOTONIC` (1) or `CLOCK_BOOTTIME` (7).
    pub clockid: i32,
    /// Where the call writes the remaining time if interrupted (0: nowhere).
    pub rmtp: u64,
    /// Nanoseconds still to sleep at checkpoint time.
    pub remaining_ns: u64,
}

impl SleepRestart {
    /// Size of the payload.
    pub const SIZE: usize = 24;
    /// `__NR_restart_syscall` of x86_64, in the saved `rax` of a process
    /// that continues such a sleep.
    pub const RESTART_SYSCALL: u64 = 219;

    /// The payload.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.clockid.to_le_bytes());
        b[8..16].copy_from_slice(&self.rmtp.to_le_bytes());
        b[16..24].copy_from_slice(&self.remaining_ns.to_le_bytes());
        b
    }

    /// Reads and checks a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DumpError> {
        let mut r = Reader::new(payload);
        let s = SleepRestart {
            clockid: r.i32("sleep clock")?,
            rmtp: {
                r.take(4, "sleep padding")?;
                r.u64("sleep rmtp")?
            },
            remaining_ns: r.u64("sleep remaining")?,
        };
        if !r.rest().is_empty()
            || ![0, 1, 7].contains(&s.clockid)
            || s.rmtp >= USER_END
            || s.remaining_ns > 1 << 62
        {
            return Err(DumpError::Invalid("impossible sleep to restart"));
        }
        Ok(s)
    }
}

/// The clocks that start again at zero with every boot, as the dumped
/// processes saw them (time namespace included) when the dump was taken.
/// A restore in a later boot keeps them going from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clocks {
    /// `CLOCK_MONOTONIC`, nanoseconds.
    pub monotonic_ns: u64,
    /// `CLOCK_BOOTTIME`, nanoseconds.
    pub boottime_ns: u64,
}

impl Clocks {
    /// Size of the payload.
    pub const SIZE: usize = 16;

    /// The payload.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.monotonic_ns.to_le_bytes());
        b[8..16].copy_from_slice(&self.boottime_ns.to_le_bytes());
        b
    }

    /// Reads and checks a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DumpError> {
        let mut r = Reader::new(payload);
        let c = Clocks {
            monotonic_ns: r.u64("monotonic clock")?,
            boottime_ns: r.u64("boot clock")?,
        };
        // The boot clock is the monotonic one plus time suspended; a
        // century of uptime is impossible (and keeps offsets in range).
        if !r.rest().is_empty() || c.boottime_ns < c.monotonic_ns || c.boottime_ns > 1 << 61 {
            return Err(DumpError::Invalid("impossible clock values"));
        }
        Ok(c)
    }
}

/// The area a thread registered with `rseq()`: the kernel keeps its
/// cpu/node fields up to date and aborts critical sections in it, and
/// glibc's `sched_getcpu()` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RseqArea {
    /// Its user address.
    pub addr: u64,
    /// Its length as registered.
    pub len: u32,
    /// The signature abort handlers are preceded by.
    pub sig: u32,
}

impl RseqArea {
    /// Size of the payload.
    pub const SIZE: usize = 16;

    /// The payload.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..16].copy_from_slice(&self.sig.to_le_bytes());
        b
    }

    /// Reads and checks a payload: as `rseq()` itself would (32-byte
    /// aligned, at least the 32 bytes of the original `struct rseq`).
    pub fn decode(payload: &[u8]) -> Result<Self, DumpError> {
        let mut r = Reader::new(payload);
        let a = RseqArea {
            addr: r.u64("rseq address")?,
            len: r.u32("rseq length")?,
            sig: r.u32("rseq signature")?,
        };
        if !r.rest().is_empty()
            || a.addr == 0
            || a.addr % 32 != 0
            || !(32..=4096).contains(&a.len)
            || !a
                .addr
                .checked_add(u64::from(a.len))
                .is_some_and(|end| end <= USER_END)
        {
            return Err(DumpError::Invalid("impossible rseq area"));
        }
        Ok(a)
    }
}

/// General registers in `struct user_regs_struct` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Registers(pub [u64; Registers::COUNT]);

impl Registers {
    /// Number of registers.
    pub const COUNT: usize = 27;
    /// Index of `orig_rax`.
    pub const ORIG_RAX: usize = 15;
    /// Index of `rax`.
    pub const RAX: usize = 10;
    /// Index of `rip`.
    pub const RIP: usize = 16;
    /// Index of `cs`.
    pub const CS: usize = 17;
    /// Index of `eflags`.
    pub const EFLAGS: usize = 18;
    /// Index of `rsp`.
    pub const RSP: usize = 19;
    /// Index of `ss`.
    pub const SS: usize = 20;
    /// Index of `fs_base`.
    pub const FS_BASE: usize = 21;
    /// Index of `gs_base`.
    pub const GS_BASE: usize = 22;

    /// The payload.
    pub fn encode(&self) -> [u8; Self::COUNT * 8] {
        let mut b = [0u8; Self::COUNT * 8];
        for (i, r) in self.0.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&r.to_le_bytes());
        }
        b
    }

    /// Reads and checks a payload: user-mode segments, canonical user
    /// addresses for rip and the bases.
    pub fn decode(payload: &[u8]) -> Result<Registers, DumpError> {
        if payload.len() != Self::COUNT * 8 {
            return Err(DumpError::Invalid("register section of the wrong size"));
        }
        let mut r = Reader::new(payload);
        let mut regs = Registers::default();
        for v in &mut regs.0 {
            *v = r.u64("register")?;
        }
        // User code and stack selectors of x86_64 Linux: __USER_CS, __USER_DS.
        if regs.0[Self::CS] != 0x33 || regs.0[Self::SS] != 0x2b {
            return Err(DumpError::Invalid("registers are not of 64-bit user mode"));
        }
        for i in [Self::RIP, Self::FS_BASE, Self::GS_BASE] {
            if regs.0[i] >= USER_END {
                return Err(DumpError::Invalid("register address outside user space"));
            }
        }
        Ok(regs)
    }
}

/// Protection bits of a [`Vma`] (as `mmap`'s `PROT_*`).
pub mod prot {
    /// Readable.
    pub const READ: u32 = 1;
    /// Writable.
    pub const WRITE: u32 = 2;
    /// Executable.
    pub const EXEC: u32 = 4;
}

/// Flag bits of a [`Vma`].
pub mod vma_flags {
    /// `MAP_SHARED` rather than private.
    pub const SHARED: u32 = 1 << 0;
    /// Grows down (the main stack).
    pub const GROWSDOWN: u32 = 1 << 1;
    /// Backed by a file (its path follows the entry).
    pub const FILE: u32 = 1 << 2;
    /// The heap (`brk` area).
    pub const HEAP: u32 = 1 << 3;
    /// The main thread's stack.
    pub const STACK: u32 = 1 << 4;
    /// The vDSO code.
    pub const VDSO: u32 = 1 << 5;
    /// The vDSO data (vvar).
    pub const VVAR: u32 = 1 << 6;
    /// Every bit known.
    pub const ALL: u32 = (1 << 7) - 1;

    /// Whether an area with `flags` is shared memory without a file: its
    /// pages are in the dump, and it comes back as shared anonymous memory.
    pub const fn shared_anonymous(flags: u32) -> bool {
        flags & (SHARED | FILE) == SHARED
    }
}

/// One memory area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// Address after the last byte.
    pub end: u64,
    /// Offset in the backing file, in bytes.
    pub offset: u64,
    /// [`prot`] bits.
    pub prot: u32,
    /// [`vma_flags`] bits.
    pub flags: u32,
    /// Backing file (empty when not [`vma_flags::FILE`]).
    pub path: &'a [u8],
    /// The backing file as it was (zero when not [`vma_flags::FILE`]).
    pub stamp: FileStamp,
}

/// Size and modification time of a mapped file: the pages of a private
/// file mapping that were never written are read from the file again on
/// restore, so it must not have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the epoch.
    pub mtime_ns: u64,
}

/// Size of the fixed part of a [`Vma`] entry.
pub const VMA_SIZE: usize = 56;

pub(crate) const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

impl<'a> Vma<'a> {
    /// Bytes the entry takes in a [`SectionKind::Vmas`] payload.
    pub fn encoded_len(&self) -> usize {
        VMA_SIZE + pad8(self.path.len())
    }

    /// Writes the entry.
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        let mut b = [0u8; VMA_SIZE];
        b[0..8].copy_from_slice(&self.start.to_le_bytes());
        b[8..16].copy_from_slice(&self.end.to_le_bytes());
        b[16..24].copy_from_slice(&self.offset.to_le_bytes());
        b[24..28].copy_from_slice(&self.prot.to_le_bytes());
        b[28..32].copy_from_slice(&self.flags.to_le_bytes());
        b[32..36].copy_from_slice(&(self.path.len() as u32).to_le_bytes());
        b[40..48].copy_from_slice(&self.stamp.size.to_le_bytes());
        b[48..56].copy_from_slice(&self.stamp.mtime_ns.to_le_bytes());
        out(&b);
        out(self.path);
        out(&[0u8; 8][..pad8(self.path.len()) - self.path.len()]);
    }

    fn decode(r: &mut Reader<'a>) -> Result<Vma<'a>, DumpError> {
        let mut v = Vma {
            start: r.u64("vma start")?,
            end: r.u64("vma end")?,
            offset: r.u64("vma offset")?,
            prot: r.u32("vma prot")?,
            flags: r.u32("vma flags")?,
            path: &[],
            stamp: FileStamp::default(),
        };
        let len = r.u32("vma path length")? as usize;
        r.take(4, "vma padding")?;
        v.stamp = FileStamp {
            size: r.u64("mapped file size")?,
            mtime_ns: r.u64("mapped file time")?,
        };
        v.path = r.padded(len, "vma path")?;
        if v.start % PAGE_SIZE != 0 || v.end % PAGE_SIZE != 0 || v.start >= v.end {
            return Err(DumpError::Invalid("memory area not page aligned or empty"));
        }
        if v.end > USER_END && v.flags & (vma_flags::VDSO | vma_flags::VVAR) == 0 {
            return Err(DumpError::Invalid("memory area outside user space"));
        }
        if v.prot & !(prot::READ | prot::WRITE | prot::EXEC) != 0 || v.flags & !vma_flags::ALL != 0
        {
            return Err(DumpError::Invalid("unknown memory area bits"));
        }
        if (v.flags & vma_flags::FILE != 0) != (len > 0) || v.offset % PAGE_SIZE != 0 {
            return Err(DumpError::Invalid("memory area file inconsistent"));
        }
        Ok(v)
    }
}

/// Reads a [`SectionKind::Vmas`] payload: sorted, non-overlapping areas.
pub fn decode_vmas<'a>(
    payload: &'a [u8],
) -> Result<impl Iterator<Item = Vma<'a>> + Clone + 'a, DumpError> {
    let mut r = Reader::new(payload);
    let count = r.u32("vma count")?;
    r.take(4, "vma padding")?;
    let entries = r.rest();
    // Validate once, so that the iterator handed out cannot fail.
    let mut check = Reader::new(entries);
    let mut prev_end = 0;
    for _ in 0..count {
        let v = Vma::decode(&mut check)?;
        if v.start < prev_end {
            return Err(DumpError::Invalid("memory areas overlap or are unsorted"));
        }
        prev_end = v.end;
    }
    if !check.rest().is_empty() {
        return Err(DumpError::Invalid("memory map section too long"));
    }
    let mut r = Reader::new(entries);
    Ok((0..count).map_while(move |_| Vma::decode(&mut r).ok()))
}

/// Writes the 8-byte head of a [`SectionKind::Vmas`] payload.
pub fn vmas_head(count: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&count.to_le_bytes());
    b
}

/// The pages of one memory area: the head of a [`SectionKind::Pages`]
/// payload, followed by `count` page addresses and `count` pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesHead {
    /// Index of the area in the process's memory map.
    pub vma: u32,
    /// Number of pages.
    pub count: u32,
}

impl PagesHead {
    /// Payload length for `count` pages.
    pub fn payload_len(count: u32) -> u64 {
        8 + count as u64 * (8 + PAGE_SIZE)
    }

    /// The head.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.vma.to_le_bytes());
        b[4..].copy_from_slice(&self.count.to_le_bytes());
        b
    }

    /// Reads the head of a payload of `len` bytes, for a reader that
    /// streams the rest (the kernel's): the length must be the one the count
    /// gives.
    pub fn decode_head(head: &[u8; 8], len: u64) -> Result<PagesHead, DumpError> {
        let mut r = Reader::new(head);
        let head = PagesHead {
            vma: r.u32("pages area")?,
            count: r.u32("page count")?,
        };
        if Self::payload_len(head.count) != len {
            return Err(DumpError::Invalid("pages section of the wrong size"));
        }
        Ok(head)
    }

    /// Reads a payload checked against its area: the addresses (sorted, page
    /// aligned, inside the area) and the page contents.
    pub fn decode<'a>(
        payload: &'a [u8],
        area: &Vma<'_>,
    ) -> Result<(PagesHead, &'a [u8], &'a [u8]), DumpError> {
        let mut r = Reader::new(payload);
        let head = Self::decode_head(&r.array("pages head")?, payload.len() as u64)?;
        let addrs = usize::try_from(u64::from(head.count) * 8)
            .map_err(|_| DumpError::Invalid("page addresses"))?;
        let addrs = r.take(addrs, "page addresses")?;
        check_page_addresses(addrs, area, &mut None)?;
        Ok((head, addrs, r.rest()))
    }
}

/// Checks page addresses (little-endian `u64`s) of `area`: page aligned,
/// inside the area, increasing. `prev` carries the last address across
/// calls, so that a long list can be checked in pieces.
pub fn check_page_addresses(
    addrs: &[u8],
    area: &Vma<'_>,
    prev: &mut Option<u64>,
) -> Result<(), DumpError> {
    if addrs.len() % 8 != 0 {
        return Err(DumpError::Invalid("page address list cut short"));
    }
    for a in addrs.chunks_exact(8) {
        let a = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
        if a % PAGE_SIZE != 0 || a < area.start || a >= area.end || prev.is_some_and(|p| a <= p) {
            return Err(DumpError::Invalid(
                "page address outside its area or unsorted",
            ));
        }
        *prev = Some(a);
    }
    Ok(())
}

/// Writes `words` as little-endian `u64`s.
fn put_u64s(out: &mut dyn FnMut(&[u8]), words: &[u64]) {
    for w in words {
        out(&w.to_le_bytes());
    }
}

/// The address-space layout the kernel keeps in `mm_struct`: what `brk()`,
/// `/proc/<pid>/cmdline`, `environ` and `auxv` rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmLayout {
    /// `start_code, end_code, start_data, end_data, start_brk, brk,
    /// start_stack, arg_start, arg_end, env_start, env_end`.
    pub fields: [u64; MmLayout::FIELDS],
    /// `saved_auxv` (pairs of type and value, ending with AT_NULL).
    pub auxv: [u64; MmLayout::AUXV],
}

impl Default for MmLayout {
    fn default() -> Self {
        MmLayout {
            fields: [0; Self::FIELDS],
            auxv: [0; Self::AUXV],
        }
    }
}

impl MmLayout {
    /// Number of layout fields.
    pub const FIELDS: usize = 11;
    /// Entries of `saved_auxv` on x86_64 (`AT_VECTOR_SIZE`).
    pub const AUXV: usize = 52;
    /// Payload size.
    pub const SIZE: usize = (Self::FIELDS + Self::AUXV) * 8;
    /// Index of `start_code`.
    pub const START_CODE: usize = 0;
    /// Index of `end_code`.
    pub const END_CODE: usize = 1;
    /// Index of `start_data`.
    pub const START_DATA: usize = 2;
    /// Index of `end_data`.
    pub const END_DATA: usize = 3;
    /// Index of `start_brk`.
    pub const START_BRK: usize = 4;
    /// Index of `brk`.
    pub const BRK: usize = 5;
    /// Index of `start_stack`.
    pub const START_STACK: usize = 6;
    /// Index of `arg_start`.
    pub const ARG_START: usize = 7;
    /// Index of `arg_end`.
    pub const ARG_END: usize = 8;
    /// Index of `env_start`.
    pub const ENV_START: usize = 9;
    /// Index of `env_end`.
    pub const ENV_END: usize = 10;

    /// Writes the payload.
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        put_u64s(out, &self.fields);
        put_u64s(out, &self.auxv);
    }

    /// Reads and checks a payload. The saved auxv is made to end with an
    /// `AT_NULL` pair whatever the file says, as `prctl(PR_SET_MM_MAP)`
    /// does: `/proc/<pid>/auxv` reads up to the first `AT_NULL`, and
    /// would otherwise read past the array.
    pub fn decode(payload: &[u8]) -> Result<MmLayout, DumpError> {
        if payload.len() != Self::SIZE {
            return Err(DumpError::Invalid("mm section of the wrong size"));
        }
        let mut r = Reader::new(payload);
        let mut m = MmLayout::default();
        for v in m.fields.iter_mut().chain(m.auxv.iter_mut()) {
            *v = r.u64("mm field")?;
        }
        m.auxv[Self::AUXV - 2] = 0; // AT_NULL
        m.auxv[Self::AUXV - 1] = 0;
        if m.fields.iter().any(|&v| v > USER_END) {
            return Err(DumpError::Invalid("mm layout address outside user space"));
        }
        if !m.ordered(|a, b| a <= b) {
            return Err(DumpError::Invalid("mm layout ranges reversed"));
        }
        Ok(m)
    }

    /// Whether `le(start, end)` holds for each of the five ranges: code,
    /// data, heap, arguments, environment.
    fn ordered(&self, le: impl Fn(u64, u64) -> bool) -> bool {
        let f = &self.fields;
        [
            (Self::START_CODE, Self::END_CODE),
            (Self::START_DATA, Self::END_DATA),
            (Self::START_BRK, Self::BRK),
            (Self::ARG_START, Self::ARG_END),
            (Self::ENV_START, Self::ENV_END),
        ]
        .iter()
        .all(|&(a, b)| le(f[a], f[b]))
    }

    /// Checks the layout as `prctl(PR_SET_MM_MAP)` would before installing
    /// it (`validate_prctl_map_addr()` of Linux 6.12 `kernel/sys.c`):
    /// every field at or above `mmap_min_addr` and below `task_size`,
    /// `start_code < end_code`, and `start_data <= end_data`,
    /// `start_brk <= brk`, `arg_start <= arg_end`, `env_start <= env_end`.
    /// The `RLIMIT_DATA` check that follows it there is left to the
    /// kernel, which knows the limit.
    pub fn check_like_prctl(&self, mmap_min_addr: u64, task_size: u64) -> Result<(), DumpError> {
        if self
            .fields
            .iter()
            .any(|&v| v < mmap_min_addr || v >= task_size)
        {
            return Err(DumpError::Invalid(
                "mm layout address below mmap_min_addr or above the task size",
            ));
        }
        let f = &self.fields;
        if f[Self::START_CODE] >= f[Self::END_CODE] || !self.ordered(|a, b| a <= b) {
            return Err(DumpError::Invalid(
                "mm layout ranges reversed or code empty",
            ));
        }
        Ok(())
    }
}

/// One signal disposition, as `struct sigaction` of x86_64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigAction {
    /// Handler address, or 0 (SIG_DFL) / 1 (SIG_IGN).
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// Signals blocked while the handler runs (bit n-1 for signal n).
    pub mask: u64,
}

/// A queued signal with its `siginfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedSignal {
    /// Queued for the whole process rather than this thread.
    pub shared: bool,
    /// The 128-byte `siginfo_t`.
    pub info: [u8; 128],
}

/// Signal state of a process (one thread for now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalState {
    /// Dispositions of signals 1 to 64.
    pub actions: [SigAction; 64],
    /// Blocked mask.
    pub blocked: u64,
    /// Alternate stack: `ss_sp`, `ss_size`, `ss_flags`.
    pub altstack: [u64; 3],
    /// Pending, thread-private set.
    pub pending: u64,
    /// Pending, process-wide set.
    pub shared_pending: u64,
    /// Number of queued `siginfo`s that follow.
    pub queued: u32,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            actions: [SigAction::default(); 64],
            blocked: 0,
            altstack: [0; 3],
            pending: 0,
            shared_pending: 0,
            queued: 0,
        }
    }
}

impl SignalState {
    /// Size of the fixed part.
    pub const SIZE: usize = 64 * 32 + 6 * 8 + 8;
    /// Size of one queued signal.
    pub const QUEUED_SIZE: usize = 8 + 128;

    /// Writes the fixed part; the caller follows it with `queued` entries
    /// written by [`SignalState::encode_queued`].
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        for a in &self.actions {
            put_u64s(out, &[a.handler, a.flags, a.restorer, a.mask]);
        }
        put_u64s(out, &[self.blocked]);
        put_u64s(out, &self.altstack);
        put_u64s(
            out,
            &[self.pending, self.shared_pending, self.queued as u64],
        );
    }

    /// Writes one queued signal.
    pub fn encode_queued(q: &QueuedSignal, out: &mut dyn FnMut(&[u8])) {
        put_u64s(out, &[q.shared as u64]);
        out(&q.info);
    }

    /// Reads a payload: the state and its queued signals.
    pub fn decode(
        payload: &[u8],
    ) -> Result<(SignalState, impl Iterator<Item = QueuedSignal> + '_), DumpError> {
        let mut r = Reader::new(payload);
        let mut st = SignalState::default();
        for a in &mut st.actions {
            *a = SigAction {
                handler: r.u64("handler")?,
                flags: r.u64("sa_flags")?,
                restorer: r.u64("sa_restorer")?,
                mask: r.u64("sa_mask")?,
            };
        }
        st.blocked = r.u64("blocked")?;
        for v in &mut st.altstack {
            *v = r.u64("altstack")?;
        }
        st.pending = r.u64("pending")?;
        st.shared_pending = r.u64("shared pending")?;
        let queued = r.u64("queued")?;
        let rest = r.rest();
        if queued > 1 << 20
            || queued.checked_mul(Self::QUEUED_SIZE as u64) != Some(rest.len() as u64)
        {
            return Err(DumpError::Invalid(
                "queued signals do not match their count",
            ));
        }
        st.queued = queued as u32;
        let user = |a: u64| a >= USER_END;
        if st
            .actions
            .iter()
            .any(|a| user(a.handler) || user(a.restorer))
        {
            return Err(DumpError::Invalid("signal handler outside user space"));
        }
        let entries = rest.chunks_exact(Self::QUEUED_SIZE).map(|c| {
            let mut info = [0u8; 128];
            info.copy_from_slice(&c[8..]);
            QueuedSignal {
                shared: c[0] != 0,
                info,
            }
        });
        Ok((st, entries))
    }
}

/// What an open file descriptor refers to.
pub mod file_kind {
    /// A regular file, reopened by path.
    pub const REGULAR: u32 = 1;
    /// A directory, reopened by path.
    pub const DIRECTORY: u32 = 2;
    /// A terminal: attached to ld-chpox's own terminal on restore.
    pub const TTY: u32 = 3;
    /// Another character device (`/dev/null` ...), reopened by path.
    pub const CHAR: u32 = 4;
    /// A pipe or FIFO.
    pub const PIPE: u32 = 5;
    /// A socket.
    pub const SOCKET: u32 = 6;
    /// Anything else (eventfd, epoll, ...), not restorable yet.
    pub const OTHER: u32 = 7;
}

/// One open file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFile<'a> {
    /// Descriptor number.
    pub fd: u32,
    /// [`file_kind`].
    pub kind: u32,
    /// `O_*` flags the file was opened with.
    pub flags: u32,
    /// Close-on-exec.
    pub cloexec: bool,
    /// File offset.
    pub pos: u64,
    /// The open file description, numbered from 1 within the dump:
    /// descriptors with the same id share it (and its offset). 0: unknown.
    pub id: u32,
    /// Path (for pipes and sockets the kernel's name, e.g. `pipe:[1234]`).
    pub path: &'a [u8],
}

/// Size of the fixed part of an [`OpenFile`] entry.
pub const OPEN_FILE_SIZE: usize = 32;

impl<'a> OpenFile<'a> {
    /// Bytes the entry takes in a [`SectionKind::Files`] payload.
    pub fn encoded_len(&self) -> usize {
        OPEN_FILE_SIZE + pad8(self.path.len())
    }

    /// Writes the entry.
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        let mut b = [0u8; OPEN_FILE_SIZE];
        b[0..4].copy_from_slice(&self.fd.to_le_bytes());
        b[4..8].copy_from_slice(&self.kind.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&(self.cloexec as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.pos.to_le_bytes());
        b[24..28].copy_from_slice(&(self.path.len() as u32).to_le_bytes());
        b[28..32].copy_from_slice(&self.id.to_le_bytes());
        out(&b);
        out(self.path);
        out(&[0u8; 8][..pad8(self.path.len()) - self.path.len()]);
    }

    fn decode(r: &mut Reader<'a>) -> Result<OpenFile<'a>, DumpError> {
        let mut f = OpenFile {
            fd: r.u32("fd")?,
            kind: r.u32("file kind")?,
            flags: r.u32("file flags")?,
            cloexec: r.u32("cloexec")? != 0,
            pos: r.u64("file offset")?,
            id: 0,
            path: &[],
        };
        let len = r.u32("file path length")? as usize;
        f.id = r.u32("file id")?;
        f.path = r.padded(len, "file path")?;
        if !(file_kind::REGULAR..=file_kind::OTHER).contains(&f.kind) || f.fd > 1 << 20 {
            return Err(DumpError::Invalid("impossible open file entry"));
        }
        if f.pos > i64::MAX as u64 {
            return Err(DumpError::Invalid("file offset out of range"));
        }
        Ok(f)
    }
}

/// Reads a [`SectionKind::Files`] payload: entries sorted by descriptor.
pub fn decode_files<'a>(
    payload: &'a [u8],
) -> Result<impl Iterator<Item = OpenFile<'a>> + Clone + 'a, DumpError> {
    let mut r = Reader::new(payload);
    let count = r.u32("file count")?;
    r.take(4, "file padding")?;
    let entries = r.rest();
    let mut check = Reader::new(entries);
    let mut prev = None;
    for _ in 0..count {
        let f = OpenFile::decode(&mut check)?;
        if prev.is_some_and(|p| f.fd <= p) {
            return Err(DumpError::Invalid("file descriptors unsorted or repeated"));
        }
        prev = Some(f.fd);
    }
    if !check.rest().is_empty() {
        return Err(DumpError::Invalid("files section too long"));
    }
    let mut r = Reader::new(entries);
    Ok((0..count).map_while(move |_| OpenFile::decode(&mut r).ok()))
}

/// Writes the 8-byte head of a [`SectionKind::Files`] payload.
pub fn files_head(count: u32) -> [u8; 8] {
    vmas_head(count)
}

/// Sections every process of a dump has exactly once.
pub const REQUIRED: [SectionKind; 7] = [
    SectionKind::Process,
    SectionKind::Mm,
    SectionKind::Registers,
    SectionKind::Fpu,
    SectionKind::Signals,
    SectionKind::Vmas,
    SectionKind::Files,
];

/// Smallest and largest XSAVE image: legacy area and header, and far more
/// than any x86 CPU defines.
const XSTATE_MIN: usize = 512 + 64;
const XSTATE_MAX: usize = 64 * 1024;

impl Dump<'_> {
    /// Decodes every section of every process and checks them against each
    /// other: each required section once, pages inside their memory areas,
    /// every area with contents at most once. A dump that passes can be
    /// restored without meeting an impossible value.
    pub fn validate(&self) -> Result<(), DumpError> {
        for p in 0..self.header.processes {
            for kind in REQUIRED {
                self.only(p, kind)?;
            }
            ProcessInfo::decode(self.only(p, SectionKind::Process)?.payload)?;
            MmLayout::decode(self.only(p, SectionKind::Mm)?.payload)?;
            Registers::decode(self.only(p, SectionKind::Registers)?.payload)?;
            let fpu = self.only(p, SectionKind::Fpu)?.payload.len();
            if !(XSTATE_MIN..=XSTATE_MAX).contains(&fpu) {
                return Err(DumpError::Invalid("FPU state of an impossible size"));
            }
            let _ = SignalState::decode(self.only(p, SectionKind::Signals)?.payload)?;
            let _ = decode_files(self.only(p, SectionKind::Files)?.payload)?;
            if let Some(s) = self.at_most_one(p, SectionKind::Restart)? {
                SleepRestart::decode(s.payload)?;
            }
            if let Some(s) = self.at_most_one(p, SectionKind::Rseq)? {
                RseqArea::decode(s.payload)?;
            }
            let _ = self.zombies(p)?;
            let vmas = decode_vmas(self.only(p, SectionKind::Vmas)?.payload)?;
            let mut last_area = None;
            for pages in self.sections_of(p, SectionKind::Pages) {
                let index = Reader::new(pages.payload).u32("pages area")?;
                if last_area.is_some_and(|l| index <= l) {
                    return Err(DumpError::Invalid("page sections unsorted or repeated"));
                }
                last_area = Some(index);
                let area = vmas.clone().nth(index as usize).ok_or(DumpError::Invalid(
                    "pages of a memory area that does not exist",
                ))?;
                PagesHead::decode(pages.payload, &area)?;
            }
        }
        self.validate_tree()?;
        self.validate_ipc()?;
        self.clocks().map(|_| ())
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

    /// Pipes and sockets: dump-wide, each once; descriptors sharing an open
    /// file agree on what it is; every pipe descriptor has its pipe.
    fn validate_ipc(&self) -> Result<(), DumpError> {
        let pipes = || self.sections().filter(|s| s.kind == SectionKind::Pipe);
        let sockets = || self.sections().filter(|s| s.kind == SectionKind::Socket);
        for (i, section) in pipes().enumerate() {
            let pipe = PipeState::decode(section.payload)?;
            if section.process != 0 {
                return Err(DumpError::Invalid("a pipe section not of process 0"));
            }
            if pipes()
                .take(i)
                .any(|o| PipeState::decode(o.payload).is_ok_and(|o| o.inode == pipe.inode))
            {
                return Err(DumpError::Invalid("a pipe appears twice"));
            }
        }
        for (i, section) in sockets().enumerate() {
            let socket = SocketState::decode(section.payload)?;
            if section.process != 0 {
                return Err(DumpError::Invalid("a socket section not of process 0"));
            }
            if sockets()
                .take(i)
                .any(|o| SocketState::decode(o.payload).is_ok_and(|o| o.inode == socket.inode))
            {
                return Err(DumpError::Invalid("a socket appears twice"));
            }
        }
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    use super::super::sink::VecSink as V;

    fn sample() -> Vec<u8> {
        let mut out = V(Vec::from([0u8; HEADER_SIZE]));
        let info = ProcessInfo {
            pid: 42,
            ppid: 1,
            pgid: 42,
            sid: 42,
            threads: 1,
            umask: 0o22,
            ..Default::default()
        };
        let (cwd, exe) = (&b"/tmp"[..], &b"/bin/app"[..]);
        let mut w = SectionWriter::begin(
            &mut out,
            SectionKind::Process,
            0,
            ProcessInfo::payload_len(cwd, exe),
        );
        w.put(&mut out, &info.encode(cwd, exe));
        w.put(&mut out, cwd);
        w.put(&mut out, exe);
        assert!(w.end(&mut out));
        let mut regs = Registers::default();
        regs.0[Registers::CS] = 0x33;
        regs.0[Registers::SS] = 0x2b;
        regs.0[Registers::RIP] = 0x40_1000;
        let mut w = SectionWriter::begin(
            &mut out,
            SectionKind::Registers,
            0,
            (Registers::COUNT * 8) as u64,
        );
        w.put(&mut out, &regs.encode());
        assert!(w.end(&mut out));
        let vmas = [
            Vma {
                start: 0x40_0000,
                end: 0x40_2000,
                offset: 0,
                prot: prot::READ | prot::EXEC,
                flags: vma_flags::FILE,
                path: b"/bin/app",
                stamp: FileStamp::default(),
            },
            Vma {
                start: 0x60_0000,
                end: 0x60_4000,
                offset: 0,
                prot: prot::READ | prot::WRITE,
                flags: vma_flags::HEAP,
                path: b"",
                stamp: FileStamp::default(),
            },
        ];
        let len = 8 + vmas.iter().map(|v| v.encoded_len() as u64).sum::<u64>();
        let mut w = SectionWriter::begin(&mut out, SectionKind::Vmas, 0, len);
        w.put(&mut out, &vmas_head(2));
        let mut buf = Vec::new();
        for v in &vmas {
            v.encode(&mut |b| buf.extend_from_slice(b));
        }
        w.put(&mut out, &buf);
        assert!(w.end(&mut out));
        let mut w =
            SectionWriter::begin(&mut out, SectionKind::Pages, 0, PagesHead::payload_len(1));
        w.put(&mut out, &PagesHead { vma: 1, count: 1 }.encode());
        w.put(&mut out, &0x60_1000u64.to_le_bytes());
        w.put(&mut out, &[0xab; PAGE_SIZE as usize]);
        assert!(w.end(&mut out));
        let mut release = [0u8; RELEASE_MAX];
        release[..8].copy_from_slice(b"6.12.117");
        let header = Header {
            arch: ARCH_X86_64,
            created_sec: 1_700_000_000,
            created_nsec: 5,
            processes: 1,
            sections: 4,
            release,
            file_size: out.0.len() as u64,
        };
        out.0[..HEADER_SIZE].copy_from_slice(&header.encode());
        out.0
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let dump = Dump::parse(&bytes).unwrap();
        assert_eq!(dump.header.release(), b"6.12.117");
        assert_eq!(dump.sections().count(), 4);
        let (info, cwd, exe) =
            ProcessInfo::decode(dump.only(0, SectionKind::Process).unwrap().payload).unwrap();
        assert_eq!((info.pid, cwd, exe), (42, &b"/tmp"[..], &b"/bin/app"[..]));
        let regs =
            Registers::decode(dump.only(0, SectionKind::Registers).unwrap().payload).unwrap();
        assert_eq!(regs.0[Registers::RIP], 0x40_1000);
        let vmas: Vec<_> = decode_vmas(dump.only(0, SectionKind::Vmas).unwrap().payload)
            .unwrap()
            .collect();
        assert_eq!(vmas.len(), 2);
        assert_eq!(vmas[0].path, b"/bin/app");
        let pages = dump.only(0, SectionKind::Pages).unwrap();
        let (head, addrs, data) = PagesHead::decode(pages.payload, &vmas[1]).unwrap();
        assert_eq!(
            (head.count, addrs.len(), data.len()),
            (1, 8, PAGE_SIZE as usize)
        );
        assert_eq!(
            dump.only(0, SectionKind::Fpu).unwrap_err(),
            DumpError::Invalid("a required section is missing")
        );
    }

    /// A dump of just these sections.
    fn build(processes: u32, sections: &[(SectionKind, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = V(Vec::from([0u8; HEADER_SIZE]));
        for (kind, p, payload) in sections {
            let mut w = SectionWriter::begin(&mut out, *kind, *p, payload.len() as u64);
            w.put(&mut out, payload);
            assert!(w.end(&mut out));
        }
        let header = Header {
            arch: ARCH_X86_64,
            created_sec: 1,
            created_nsec: 0,
            processes,
            sections: sections.len() as u32,
            release: [0; RELEASE_MAX],
            file_size: out.0.len() as u64,
        };
        out.0[..HEADER_SIZE].copy_from_slice(&header.encode());
        out.0
    }

    fn process(pid: i32, ppid: i32) -> Vec<u8> {
        let info = ProcessInfo {
            pid,
            ppid,
            pgid: pid,
            sid: pid,
            threads: 1,
            ..Default::default()
        };
        let mut v = Vec::from(info.encode(b"/", b""));
        v.extend_from_slice(b"/");
        v
    }

    #[test]
    fn trees_are_checked() {
        let tree = |procs: &[(i32, i32)]| {
            let sections: Vec<_> = procs
                .iter()
                .enumerate()
                .map(|(i, &(pid, ppid))| (SectionKind::Process, i as u32, process(pid, ppid)))
                .collect();
            let bytes = build(procs.len() as u32, &sections);
            Dump::parse(&bytes).unwrap().validate_tree()
        };
        assert_eq!(tree(&[(10, 1), (11, 10), (12, 11), (13, 10)]), Ok(()));
        assert!(
            tree(&[(10, 1), (11, 10), (11, 10)]).is_err(),
            "same pid twice"
        );
        assert!(tree(&[(10, 1), (12, 11), (11, 10)]).is_err(), "child first");
        assert!(tree(&[(10, 1), (11, 99)]).is_err(), "parent outside");
    }

    fn files(entries: &[OpenFile<'_>]) -> Vec<u8> {
        let mut v = Vec::from(files_head(entries.len() as u32));
        for f in entries {
            f.encode(&mut |b| v.extend_from_slice(b));
        }
        v
    }

    #[test]
    fn pipes_and_shared_files_are_checked() {
        let pipe_end = |fd, id, path| OpenFile {
            fd,
            kind: file_kind::PIPE,
            flags: 0,
            cloexec: false,
            pos: 0,
            id,
            path,
        };
        let mut pipe = Vec::from(PipeState::encode_head(7, 65536, 2));
        pipe.extend_from_slice(b"hi");
        let check = |sections: &[(SectionKind, u32, Vec<u8>)]| {
            let bytes = build(1, sections);
            Dump::parse(&bytes).unwrap().validate_ipc()
        };
        let good_files = files(&[pipe_end(3, 1, b"pipe:[7]"), pipe_end(4, 1, b"pipe:[7]")]);
        assert_eq!(
            check(&[
                (SectionKind::Files, 0, good_files.clone()),
                (SectionKind::Pipe, 0, pipe.clone()),
            ]),
            Ok(())
        );
        assert!(
            check(&[(SectionKind::Files, 0, good_files.clone())]).is_err(),
            "pipe descriptor without its pipe"
        );
        assert!(
            check(&[
                (SectionKind::Files, 0, good_files),
                (SectionKind::Pipe, 0, pipe.clone()),
                (SectionKind::Pipe, 0, pipe.clone()),
            ])
            .is_err(),
            "one pipe twice"
        );
        let disagree = files(&[pipe_end(3, 1, b"pipe:[7]"), pipe_end(4, 1, b"pipe:[8]")]);
        let pipe8 = Vec::from(PipeState::encode_head(8, 65536, 0));
        assert!(
            check(&[
                (SectionKind::Files, 0, disagree),
                (SectionKind::Pipe, 0, pipe),
                (SectionKind::Pipe, 0, pipe8),
            ])
            .is_err(),
            "one open file, two pipes"
        );
    }

    #[test]
    fn sleeps_round_trip() {
        let s = SleepRestart {
            clockid: 1,
            rmtp: 0x7fff_0000,
            remaining_ns: 1_500_000_000,
        };
        assert_eq!(SleepRestart::decode(&s.encode()), Ok(s));
        let bad_clock = SleepRestart { clockid: 3, ..s };
        assert!(SleepRestart::decode(&bad_clock.encode()).is_err());
        let kernel_rmtp = SleepRestart {
            rmtp: 0xffff_8000_0000_0000,
            ..s
        };
        assert!(SleepRestart::decode(&kernel_rmtp.encode()).is_err());
    }

    #[test]
    fn rseq_areas_are_checked() {
        let a = RseqArea {
            addr: 0x7f00_0000_1020,
            len: 32,
            sig: 0x5305_3053,
        };
        assert_eq!(RseqArea::decode(&a.encode()), Ok(a));
        for bad in [
            RseqArea { addr: 0, ..a },
            RseqArea {
                addr: a.addr + 8,
                ..a
            },
            RseqArea { len: 20, ..a },
            RseqArea {
                addr: USER_END - 32,
                len: 64,
                ..a
            },
            // Found by the fuzzer: the end of the area overflowed.
            RseqArea {
                addr: !31,
                len: 32,
                ..a
            },
            RseqArea {
                addr: !(PAGE_SIZE - 1),
                len: 4096,
                ..a
            },
        ] {
            assert!(RseqArea::decode(&bad.encode()).is_err(), "{bad:?}");
        }
        let last = RseqArea {
            addr: USER_END - 32,
            ..a
        };
        assert_eq!(RseqArea::decode(&last.encode()), Ok(last));
    }

    #[test]
    fn exited_children_are_checked() {
        let list = |z: &[Zombie]| z.iter().flat_map(|z| z.encode()).collect::<Vec<u8>>();
        let ok = [
            Zombie {
                pid: 7,
                status: 3 << 8,
            },
            Zombie { pid: 9, status: 9 },
            Zombie {
                pid: 12,
                status: 11 | 0x80,
            },
        ];
        let got: Vec<_> = decode_zombies(&list(&ok)).unwrap().collect();
        assert_eq!(got, ok);
        assert_eq!(got[0].outcome(), Ok(3));
        assert_eq!(got[1].outcome(), Err(9));
        assert_eq!(decode_zombies(&[]).unwrap().count(), 0);
        for bad in [
            std::vec![ok[1], ok[0]],
            std::vec![ok[0], ok[0]],
            std::vec![Zombie { pid: 0, status: 0 }],
            std::vec![Zombie {
                pid: 5,
                status: 0x1_0000
            }],
            std::vec![Zombie { pid: 5, status: 65 }],
            std::vec![Zombie { pid: 5, status: 19 }],
            std::vec![Zombie {
                pid: 5,
                status: 9 | 0x100
            }],
        ] {
            assert!(decode_zombies(&list(&bad)).is_err(), "{bad:?}");
        }
        assert!(decode_zombies(&list(&ok)[..12]).is_err(), "cut entry");
        let many: Vec<_> = (1..=Zombie::MAX as i32 + 1)
            .map(|pid| Zombie { pid, status: 0 })
            .collect();
        assert!(decode_zombies(&list(&many)).is_err(), "too many");
    }

    #[test]
    fn clocks_are_checked() {
        let c = Clocks {
            monotonic_ns: 5_000_000_000,
            boottime_ns: 6_000_000_000,
        };
        assert_eq!(Clocks::decode(&c.encode()), Ok(c));
        let behind = Clocks {
            boottime_ns: 1,
            ..c
        };
        assert!(
            Clocks::decode(&behind.encode()).is_err(),
            "boot clock behind"
        );
        let clocks = |sections: &[(SectionKind, u32, Vec<u8>)]| {
            Dump::parse(&build(2, sections)).unwrap().clocks()
        };
        let one = (SectionKind::Clocks, 0, Vec::from(c.encode()));
        assert_eq!(clocks(&[]), Ok(None));
        assert_eq!(clocks(core::slice::from_ref(&one)), Ok(Some(c)));
        assert!(clocks(&[one.clone(), one.clone()]).is_err(), "twice");
        assert!(
            clocks(&[(SectionKind::Clocks, 1, one.2)]).is_err(),
            "not process 0"
        );
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = sample();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(Dump::parse(&bad).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn every_truncation_is_caught() {
        let bytes = sample();
        for n in 0..bytes.len() {
            assert!(
                Dump::parse(&bytes[..n]).is_err(),
                "truncation to {n} went unnoticed"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Dump::parse(&longer),
            Err(DumpError::Length { .. })
        ));
    }

    #[test]
    fn header_errors_are_specific() {
        let bytes = sample();
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(Dump::parse(&bad).unwrap_err(), DumpError::BadMagic);
        let mut h = Header::decode(&bytes).unwrap();
        h.arch = 0x4000_00b7; // AUDIT_ARCH_AARCH64
        let mut bad = bytes.clone();
        bad[..HEADER_SIZE].copy_from_slice(&h.encode());
        assert_eq!(Dump::parse(&bad).unwrap_err(), DumpError::Arch(0x4000_00b7));
        let mut bad = bytes.clone();
        bad[8] = 9;
        assert_eq!(Dump::parse(&bad).unwrap_err(), DumpError::Version(9));
        assert_eq!(Dump::parse(&bytes[..10]).unwrap_err(), DumpError::TooShort);
    }

    #[test]
    fn lengths_near_the_limits_are_refused() {
        let bytes = [0u8; 64];
        for len in [usize::MAX, usize::MAX - 6, usize::MAX - 7, 65] {
            assert!(Reader::new(&bytes).padded(len, "x").is_err(), "{len}");
        }
        assert_eq!(Reader::new(&bytes).padded(57, "x").map(<[u8]>::len), Ok(57));
        let mut r = Reader::new(&bytes);
        assert_eq!(r.padded(9, "x").map(<[u8]>::len), Ok(9));
        assert_eq!(r.rest().len(), 48);
        assert_eq!(SectionWriter::size(u64::MAX), u64::MAX);
        assert_eq!(SectionWriter::size(1), 21);
        // A path length of u32::MAX in a memory area and an open file.
        for (head, entry_len, len_at) in [
            (vmas_head(1), VMA_SIZE, 32),
            (files_head(1), OPEN_FILE_SIZE, 24),
        ] {
            let mut v = Vec::from(head);
            v.resize(8 + entry_len + 8, 0);
            v[8 + len_at..8 + len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            assert!(decode_vmas(&v).is_err());
            assert!(decode_files(&v).is_err());
        }
        // Pages: a count of u32::MAX; queued signals: a count whose size
        // would overflow.
        let mut p = PagesHead {
            vma: 0,
            count: u32::MAX,
        }
        .encode()
        .to_vec();
        p.extend_from_slice(&[0; 64]);
        let area = Vma {
            start: 0,
            end: USER_END,
            offset: 0,
            prot: 0,
            flags: 0,
            path: b"",
            stamp: FileStamp::default(),
        };
        assert!(PagesHead::decode(&p, &area).is_err());
        assert_eq!(
            PagesHead::payload_len(u32::MAX),
            8 + u64::from(u32::MAX) * 4104
        );
        for queued in [u64::MAX, u64::MAX / 136 + 1, 1 << 20 | 1] {
            let mut b = Vec::new();
            SignalState::default().encode(&mut |x| b.extend_from_slice(x));
            let at = b.len() - 8;
            b[at..].copy_from_slice(&queued.to_le_bytes());
            assert!(SignalState::decode(&b).is_err(), "{queued}");
        }
    }

    #[test]
    fn sections_are_walked_without_checksums_after_parse() {
        let bytes = sample();
        let dump = Dump::parse(&bytes).unwrap();
        // The iterators see what parse verified, in order.
        let kinds: Vec<_> = dump.sections().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::Process,
                SectionKind::Registers,
                SectionKind::Vmas,
                SectionKind::Pages
            ]
        );
        assert_eq!(dump.walk(true).filter(Result::is_ok).count(), 4);
    }

    /// The layout of a small static program: code, data, heap, stack with
    /// its arguments and environment.
    fn layout() -> MmLayout {
        MmLayout {
            fields: [
                0x40_1000,
                0x40_5000,
                0x60_0000,
                0x60_2000,
                0x60_3000,
                0x62_4000,
                0x7ffd_0000_1000,
                0x7ffd_0000_1100,
                0x7ffd_0000_1180,
                0x7ffd_0000_1180,
                0x7ffd_0000_1ff0,
            ],
            ..Default::default()
        }
    }

    /// `vm.mmap_min_addr`'s default.
    const MMAP_MIN_ADDR: u64 = 65536;

    #[test]
    fn mm_layout_checked_like_prctl() {
        let ok = layout();
        assert_eq!(ok.check_like_prctl(MMAP_MIN_ADDR, USER_END), Ok(()));
        for i in 0..MmLayout::FIELDS {
            let mut low = ok;
            low.fields[i] = MMAP_MIN_ADDR - 1;
            assert!(
                low.check_like_prctl(MMAP_MIN_ADDR, USER_END).is_err(),
                "field {i} below mmap_min_addr"
            );
            let mut high = ok;
            high.fields[i] = USER_END;
            assert!(
                high.check_like_prctl(MMAP_MIN_ADDR, USER_END).is_err(),
                "field {i} at the task size"
            );
            let mut far = ok;
            far.fields[i] = u64::MAX;
            assert!(far.check_like_prctl(0, u64::MAX).is_err(), "field {i}");
        }
        // Bounds: mmap_min_addr itself and the last byte below the task
        // size are accepted.
        let mut edges = ok;
        edges.fields = [MMAP_MIN_ADDR; MmLayout::FIELDS];
        edges.fields[MmLayout::END_CODE] = USER_END - 1;
        assert_eq!(edges.check_like_prctl(MMAP_MIN_ADDR, USER_END), Ok(()));
        // Each pair reversed; empty ranges are fine but for the code.
        for (a, b) in [(0, 1), (2, 3), (4, 5), (7, 8), (9, 10)] {
            let mut reversed = ok;
            reversed.fields.swap(a, b);
            assert!(
                reversed.check_like_prctl(MMAP_MIN_ADDR, USER_END).is_err(),
                "fields {a} and {b} reversed"
            );
            let mut empty = ok;
            empty.fields[b] = empty.fields[a];
            assert_eq!(
                empty.check_like_prctl(MMAP_MIN_ADDR, USER_END).is_ok(),
                a != MmLayout::START_CODE,
                "fields {a} and {b} equal"
            );
        }
        // start_stack is only range checked.
        let mut stack = ok;
        stack.fields[MmLayout::START_STACK] = MMAP_MIN_ADDR;
        assert_eq!(stack.check_like_prctl(MMAP_MIN_ADDR, USER_END), Ok(()));
        // Limits past the values, as with a 5-level task size.
        assert_eq!(ok.check_like_prctl(0, u64::MAX), Ok(()));
        assert!(ok.check_like_prctl(u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn auxv_always_ends_with_at_null() {
        let mut m = layout();
        m.auxv = [u64::MAX; MmLayout::AUXV];
        let mut b = Vec::new();
        m.encode(&mut |x| b.extend_from_slice(x));
        let back = MmLayout::decode(&b).unwrap();
        assert_eq!(back.fields, m.fields);
        assert_eq!(
            back.auxv[..MmLayout::AUXV - 2],
            m.auxv[..MmLayout::AUXV - 2]
        );
        assert_eq!(back.auxv[MmLayout::AUXV - 2..], [0, 0]);
    }

    #[test]
    fn records_round_trip() {
        let mut m = MmLayout {
            fields: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            ..Default::default()
        };
        m.auxv[0] = 6;
        let mut b = Vec::new();
        m.encode(&mut |x| b.extend_from_slice(x));
        assert_eq!(MmLayout::decode(&b), Ok(m));
        b[8] = 0;
        assert!(MmLayout::decode(&b).is_err(), "end_code before start_code");

        let mut st = SignalState {
            actions: [SigAction::default(); 64],
            blocked: 1 << 9,
            altstack: [0x7000, 8192, 0],
            pending: 0,
            shared_pending: 1 << 11,
            queued: 1,
        };
        st.actions[11] = SigAction {
            handler: 0x40_1234,
            flags: 0x0400_0000,
            restorer: 0x40_2000,
            mask: 0,
        };
        let q = QueuedSignal {
            shared: true,
            info: [7; 128],
        };
        let mut b = Vec::new();
        st.encode(&mut |x| b.extend_from_slice(x));
        SignalState::encode_queued(&q, &mut |x| b.extend_from_slice(x));
        let (back, queued) = SignalState::decode(&b).unwrap();
        assert_eq!(back, st);
        assert_eq!(queued.collect::<Vec<_>>(), [q]);
        assert!(SignalState::decode(&b[..b.len() - 1]).is_err());

        let files = [
            OpenFile {
                fd: 0,
                kind: file_kind::TTY,
                flags: 2,
                cloexec: false,
                pos: 0,
                id: 1,
                path: b"/dev/pts/0",
            },
            OpenFile {
                fd: 3,
                kind: file_kind::REGULAR,
                flags: 0o2001,
                cloexec: true,
                pos: 12345,
                id: 2,
                path: b"/tmp/out",
            },
        ];
        let mut b = Vec::from(files_head(2));
        for f in &files {
            f.encode(&mut |x| b.extend_from_slice(x));
        }
        assert_eq!(decode_files(&b).unwrap().collect::<Vec<_>>(), files);
        b[OPEN_FILE_SIZE + 8 + 16] = 0; // second fd := 0, a repeat
        assert!(decode_files(&b).is_err());
    }

    #[test]
    fn impossible_values_are_refused() {
        let area = Vma {
            start: 0x1000,
            end: 0x3000,
            offset: 0,
            prot: 3,
            flags: 0,
            path: b"",
            stamp: FileStamp::default(),
        };
        let mut p = PagesHead { vma: 0, count: 1 }.encode().to_vec();
        p.extend_from_slice(&0x5000u64.to_le_bytes());
        p.extend_from_slice(&[0; PAGE_SIZE as usize]);
        assert!(PagesHead::decode(&p, &area).is_err());
        let mut regs = Registers::default().encode();
        assert!(Registers::decode(&regs).is_err());
        regs[Registers::CS * 8] = 0x33;
        regs[Registers::SS * 8] = 0x2b;
        assert!(Registers::decode(&regs).is_ok());
        let mut v = Vec::from(vmas_head(2));
        for (s, e) in [(0x2000u64, 0x4000u64), (0x3000, 0x5000)] {
            Vma {
                start: s,
                end: e,
                offset: 0,
                prot: 1,
                flags: 0,
                path: b"",
                stamp: FileStamp::default(),
            }
            .encode(&mut |b| v.extend_from_slice(b));
        }
        assert!(decode_vmas(&v).is_err());
    }
}
