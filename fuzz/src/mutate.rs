// SPDX-License-Identifier: GPL-2.0

//! Mutations. A dump is split (leniently, whatever its bytes) into its
//! header, sections and trailing bytes; mutations change payload bytes and
//! fields (counts and lengths set to 0, `u32::MAX`, `u64::MAX`, just past
//! the end...), drop, repeat, reorder and splice sections, change framing
//! and header fields; the dump is then written again with its checksums,
//! section count and file size fixed (but now and then not), so that most
//! inputs get past the checksums into the decoders. Now and then raw bytes
//! of the result are changed or it is cut short, and fixed again or not.
//! `/proc/chpox` lines get byte and token mutations.

use crate::abi::checksum::Checksum;
use crate::abi::dump::{
    seal_header, PagesHead, HEADER_SIZE, PAGE_SIZE, SECTION_HEAD, SECTION_TAIL, USER_END,
    ZSTD_FRAME_MAX,
};
use crate::abi::registration::{COMMAND_MAX, PATH_MAX};
use crate::rng::Rng;
use std::vec::Vec;

/// Largest dump a mutation may grow (keeps cases fast).
const GROW_MAX: usize = 4 << 20;

/// One section as the mutator sees it.
#[derive(Debug, Clone)]
pub struct Sec {
    /// Raw kind number.
    pub kind: u32,
    /// Process number.
    pub process: u32,
    /// Payload.
    pub payload: Vec<u8>,
    /// Length to write in the framing instead of the payload's.
    pub len: Option<u64>,
    /// Checksum to write instead of the right one.
    pub checksum: Option<u32>,
}

/// A dump as the mutator sees it.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The header bytes (shorter than [`HEADER_SIZE`] only for a file
    /// that short).
    pub header: Vec<u8>,
    /// The sections whose framing fits, in file order.
    pub sections: Vec<Sec>,
    /// Whatever follows the last section that fits.
    pub tail: Vec<u8>,
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |v, &b| (v << 8) | u64::from(b))
}

/// Splits any bytes into a [`Layout`].
pub fn split(bytes: &[u8]) -> Layout {
    let n = bytes.len().min(HEADER_SIZE);
    let mut layout = Layout {
        header: bytes[..n].to_vec(),
        sections: Vec::new(),
        tail: Vec::new(),
    };
    let mut rest = &bytes[n..];
    while rest.len() >= SECTION_HEAD + SECTION_TAIL {
        let len = le(&rest[8..16]);
        let Some(total) = len
            .checked_add((SECTION_HEAD + SECTION_TAIL) as u64)
            .filter(|&t| t <= rest.len() as u64)
        else {
            break;
        };
        let total = total as usize;
        let body = &rest[..total - SECTION_TAIL];
        let stored = le(&rest[total - SECTION_TAIL..total]) as u32;
        layout.sections.push(Sec {
            kind: le(&rest[0..4]) as u32,
            process: le(&rest[4..8]) as u32,
            payload: body[SECTION_HEAD..].to_vec(),
            len: None,
            checksum: (Checksum::of(body) != stored).then_some(stored),
        });
        rest = &rest[total..];
    }
    layout.tail = rest.to_vec();
    layout
}

/// What [`join`] fixes in the header.
#[derive(Debug, Clone, Copy)]
pub struct Fix {
    /// The section count.
    pub count: bool,
    /// The file size.
    pub size: bool,
    /// The header checksum.
    pub header_checksum: bool,
}

impl Fix {
    /// Everything.
    pub const ALL: Fix = Fix {
        count: true,
        size: true,
        header_checksum: true,
    };
}

/// Writes a [`Layout`] as a file.
pub fn join(layout: &Layout, fix: Fix) -> Vec<u8> {
    let mut out = layout.header.clone();
    if out.len() < HEADER_SIZE && !(layout.sections.is_empty() && layout.tail.is_empty()) {
        out.resize(HEADER_SIZE, 0);
    }
    for s in &layout.sections {
        let start = out.len();
        out.extend_from_slice(&s.kind.to_le_bytes());
        out.extend_from_slice(&s.process.to_le_bytes());
        let len = s.len.unwrap_or(s.payload.len() as u64);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&s.payload);
        let checksum = s.checksum.unwrap_or_else(|| Checksum::of(&out[start..]));
        out.extend_from_slice(&checksum.to_le_bytes());
    }
    out.extend_from_slice(&layout.tail);
    if out.len() >= HEADER_SIZE {
        if fix.count {
            let n = layout.sections.len() as u32;
            out[32..36].copy_from_slice(&n.to_le_bytes());
        }
        if fix.size {
            let n = out.len() as u64;
            out[104..112].copy_from_slice(&n.to_le_bytes());
        }
        if fix.header_checksum {
            seal_header(&mut out);
        }
    }
    out
}

/// Sets the checksum of every section whose framing fits in the file.
pub fn fix_section_checksums(bytes: &mut [u8]) {
    let mut at = HEADER_SIZE;
    while at.saturating_add(SECTION_HEAD + SECTION_TAIL) <= bytes.len() {
        let len = le(&bytes[at + 8..at + 16]);
        let Some(end) = len
            .checked_add((at + SECTION_HEAD + SECTION_TAIL) as u64)
            .filter(|&e| e <= bytes.len() as u64)
        else {
            return;
        };
        let end = end as usize;
        let checksum = Checksum::of(&bytes[at..end - SECTION_TAIL]);
        bytes[end - SECTION_TAIL..end].copy_from_slice(&checksum.to_le_bytes());
        at = end;
    }
}

/// Values that break careless arithmetic and bounds.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    17,
    19,
    20,
    31,
    32,
    33,
    63,
    64,
    65,
    108,
    109,
    127,
    128,
    255,
    256,
    575,
    576,
    4095,
    4096,
    4097,
    ZSTD_FRAME_MAX,
    ZSTD_FRAME_MAX + 1,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x10_0000,
    1 << 20,
    (1 << 20) + 1,
    1 << 22,
    (1 << 22) + 1,
    1 << 28,
    (1 << 28) + 1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    1 << 40,
    USER_END - PAGE_SIZE,
    USER_END - 32,
    USER_END - 1,
    USER_END,
    USER_END + 1,
    USER_END + PAGE_SIZE,
    1 << 47,
    0xffff_8000_0000_0000,
    0xffff_ffff_ff60_0000,
    1 << 61,
    (1 << 61) + 1,
    1 << 62,
    (1 << 62) + 1,
    i64::MAX as u64,
    1 << 63,
    u64::MAX - 4096,
    u64::MAX - 4095,
    !4095,
    !31,
    u64::MAX - 31,
    u64::MAX - 20,
    u64::MAX - 19,
    u64::MAX - 16,
    u64::MAX - 15,
    u64::MAX - 7,
    u64::MAX - 1,
    u64::MAX,
];

/// Sizes of the entries counts count: a count just past what the bytes
/// hold is `remaining / size + 1`.
const ENTRY_SIZES: &[u64] = &[1, 4, 8, 16, 24, 32, 56, 136, 4096, 4104];

/// Where the fields of a payload of `kind` are: `(offset, width)`.
fn hot_fields(kind: u32, payload: &[u8]) -> Vec<(usize, usize)> {
    let mut f = Vec::new();
    // Entries of variable length: fixed part of `fixed` bytes, path length
    // at `len_at`, padded path after the fixed part.
    let entries = |f: &mut Vec<(usize, usize)>,
                   first: usize,
                   fixed: usize,
                   fields: &[(usize, usize)],
                   len_at: usize| {
        let mut at = first;
        let mut n = 0;
        while at + fixed <= payload.len() && n < 64 {
            f.extend(fields.iter().map(|&(o, w)| (at + o, w)));
            let len = le(&payload[at + len_at..at + len_at + 4]) as usize;
            at = at + fixed + ((len.min(1 << 24) + 7) & !7);
            n += 1;
        }
    };
    match kind {
        1 => f.extend([(0, 4), (4, 4), (48, 4), (52, 4), (72, 4), (76, 4)]),
        2 => f.extend(
            (0..11)
                .map(|i| (i * 8, 8))
                .chain([(88 + 50 * 8, 8), (88 + 51 * 8, 8)]),
        ),
        3 => f.extend([10, 15, 16, 17, 19, 20, 21, 22, 23].map(|i| (i * 8, 8))),
        5 => f.extend([
            (2048, 8),
            (2056, 8),
            (2064, 8),
            (2080, 8),
            (2088, 8),
            (2096, 8),
        ]),
        6 => {
            f.push((0, 4));
            entries(
                &mut f,
                8,
                56,
                &[(0, 8), (8, 8), (16, 8), (24, 4), (28, 4), (32, 4)],
                32,
            );
        }
        7 => {
            f.extend([(0, 4), (4, 4), (8, 8), (16, 8)]);
            let count = payload.get(4..8).map_or(0, le) as usize;
            if count > 0 && count < 1 << 16 {
                f.push((8 + (count - 1) * 8, 8));
            }
        }
        8 => {
            f.push((0, 4));
            entries(
                &mut f,
                8,
                32,
                &[(0, 4), (4, 4), (12, 4), (16, 8), (24, 4), (28, 4)],
                24,
            );
        }
        9 => f.extend([(0, 8), (8, 4), (16, 8)]),
        10 => {
            f.extend([
                (0, 8),
                (8, 8),
                (16, 4),
                (20, 4),
                (24, 4),
                (28, 4),
                (32, 4),
                (36, 4),
            ]);
            let name = payload.get(28..32).map_or(0, le) as usize;
            entries(&mut f, 40 + ((name.min(1 << 24) + 7) & !7), 8, &[(0, 4)], 0);
        }
        11 => f.extend([(0, 4), (8, 8), (16, 8)]),
        12 => f.extend([(0, 8), (8, 8)]),
        13 => f.extend([(0, 8), (8, 4), (12, 4)]),
        14 => f.extend((0..payload.len() / 4).map(|i| (i * 4, 4))),
        16 => {
            // Head, first and last addresses, and the zstd frame's magic,
            // descriptor and first block header after them.
            f.extend([(0, 4), (4, 4), (8, 8), (16, 8)]);
            let count = payload.get(4..8).map_or(0, le) as usize;
            if count > 0 && count < 1 << 16 {
                f.push((8 + (count - 1) * 8, 8));
                let frame = 8 + count * 8;
                f.extend([(frame, 4), (frame + 4, 1), (frame + 5, 4), (frame + 9, 4)]);
            }
        }
        _ => {}
    }
    f.retain(|&(o, w)| o + w <= payload.len());
    f
}

/// The mutation state of one case: its generator, the pool of layouts to
/// splice from, and a log of what was done (printed with a crash).
pub struct Mutator<'a> {
    /// The case's generator.
    pub rng: &'a mut Rng,
    /// Every seed, split.
    pub pool: &'a [Layout],
    /// What was done, one entry a mutation.
    pub log: Vec<String>,
}

impl Mutator<'_> {
    /// A value for a field of `width` bytes at `off` in a payload of `len`
    /// bytes.
    fn value(&mut self, off: usize, width: usize, len: usize, old: u64) -> u64 {
        let remaining = len.saturating_sub(off + width) as u64;
        let v = match self.rng.below(12) {
            0..=3 => self.rng.pick(INTERESTING),
            // Near the top, aligned: `0 - 2^k`, or the low bits kept and
            // every bit above them set.
            10 => 0u64.wrapping_sub(1 << self.rng.below(16)),
            11 => {
                let low = 1 + self.rng.below(24);
                (u64::MAX << low) | (old & !(u64::MAX << low))
            }
            4 => {
                let size = self.rng.pick(ENTRY_SIZES);
                remaining / size + self.rng.below(3)
            }
            5 => match self.rng.below(4) {
                0 => len as u64,
                1 => remaining,
                2 => remaining + 1,
                _ => (len as u64).wrapping_sub(1),
            },
            6 => old.wrapping_add(self.rng.below(33)).wrapping_sub(16),
            7 => old ^ (1 << self.rng.below(64)),
            8 => !old,
            _ => self.rng.bits() >> self.rng.below(64),
        };
        if width == 4 {
            v & 0xffff_ffff
        } else {
            v
        }
    }

    fn write(payload: &mut [u8], off: usize, width: usize, v: u64) {
        if let Some(dst) = payload.get_mut(off..off + width) {
            dst.copy_from_slice(&v.to_le_bytes()[..width]);
        }
    }

    /// Changes one field of a payload.
    fn field(&mut self, kind: u32, payload: &mut [u8]) {
        if payload.is_empty() {
            return;
        }
        let hot = hot_fields(kind, payload);
        let (off, width) = if !hot.is_empty() && self.rng.below(3) != 0 {
            self.rng.pick(&hot)
        } else {
            let width = if self.rng.one_in(2) { 8 } else { 4 };
            let slots = payload.len() / width;
            if slots == 0 {
                return;
            }
            (self.rng.index(slots) * width, width)
        };
        let old = le(&payload[off..off + width]);
        let v = self.value(off, width, payload.len(), old);
        Self::write(payload, off, width, v);
        self.log
            .push(format!("field at {off} ({width} bytes) := {v:#x}"));
    }

    /// Changes some bytes of a buffer (no field structure).
    fn bytes(&mut self, buf: &mut [u8]) {
        if buf.is_empty() {
            return;
        }
        let i = self.rng.index(buf.len());
        match self.rng.below(3) {
            0 => {
                let bit = self.rng.below(8);
                buf[i] ^= 1 << bit;
                self.log.push(format!("bit {bit} of byte {i} flipped"));
            }
            1 => {
                let v = self.rng.pick(&[0u8, 0xff, 0x7f, 0x80, 0x01, b'/', 0]);
                buf[i] = v;
                self.log.push(format!("byte {i} := {v:#x}"));
            }
            _ => {
                let n = (self.rng.below(16) as usize + 1).min(buf.len() - i);
                for b in &mut buf[i..i + n] {
                    *b = self.rng.bits() as u8;
                }
                self.log.push(format!("{n} bytes at {i} randomized"));
            }
        }
    }

    /// Cuts, extends, inserts into or deletes from a payload.
    fn resize(&mut self, payload: &mut Vec<u8>) {
        let len = payload.len();
        match self.rng.below(6) {
            0 => {
                let n = self.rng.index(len + 1);
                payload.truncate(n);
                self.log.push(format!("payload cut to {n}"));
            }
            1 => {
                let cut = self.rng.pick(&[1usize, 4, 8, 16]).min(len);
                payload.truncate(len - cut);
                self.log.push(format!("payload cut by {cut}"));
            }
            2 => {
                let n = self.rng.pick(&[1usize, 4, 7, 8, 56, 136, 4096, 4104]);
                let fill = if self.rng.one_in(2) { 0 } else { 0xff };
                payload.resize(len + n, fill);
                self.log.push(format!("payload extended by {n}"));
            }
            3 => {
                let at = self.rng.index(len + 1);
                let n = self.rng.pick(&[1usize, 4, 8, 32, 56]);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.bits() as u8).collect();
                payload.splice(at..at, bytes);
                self.log.push(format!("{n} bytes inserted at {at}"));
            }
            4 => {
                // A zstd frame (after a pages head and its count's
                // addresses) cut to nothing or grown to its limit or past.
                let count = payload.get(4..8).map_or(0, le) as u32;
                if count == 0 || count > 256 {
                    return;
                }
                let frame = self.rng.pick(&[0, 1, ZSTD_FRAME_MAX, ZSTD_FRAME_MAX + 1]);
                let n = (PagesHead::kept_len(count) + frame) as usize;
                payload.resize(n, 0x5a);
                self.log
                    .push(format!("payload made {n}: a frame of {frame}"));
            }
            _ => {
                let at = self.rng.index(len + 1);
                let n = self.rng.pick(&[1usize, 4, 8, 32, 56]).min(len - at);
                payload.drain(at..at + n);
                self.log.push(format!("{n} bytes deleted at {at}"));
            }
        }
    }

    /// A section of the pool, preferably of `kind`.
    fn pool_section(&mut self, kind: Option<u32>) -> Option<Sec> {
        let layout = &self.pool[self.rng.index(self.pool.len())];
        let candidates: Vec<&Sec> = layout
            .sections
            .iter()
            .filter(|s| kind.map_or(true, |k| s.kind == k))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[self.rng.index(candidates.len())].clone())
    }

    fn header_field(&mut self, header: &mut Vec<u8>) {
        if header.len() < HEADER_SIZE {
            header.resize(HEADER_SIZE, 0);
        }
        let (off, width, name) = self.rng.pick(&[
            (8, 4, "version"),
            (12, 4, "arch"),
            (16, 8, "created"),
            (24, 4, "nanoseconds"),
            (28, 4, "processes"),
            (28, 4, "processes"),
            (28, 4, "processes"),
            (32, 4, "sections"),
            (36, 8, "release"),
            (100, 4, "padding"),
            (104, 8, "file size"),
        ]);
        let v = match (name, self.rng.below(3)) {
            ("processes", 0) => self.rng.below(6),
            ("processes", 1) => u64::from(u32::MAX),
            ("nanoseconds", 0) => 999_999_999 + self.rng.below(2),
            ("release", 0) => 0,
            _ => {
                let old = le(&header[off..off + width]);
                self.value(off, width, HEADER_SIZE, old)
            }
        };
        Self::write(header, off, width, v);
        self.log.push(format!("header {name} := {v:#x}"));
    }

    /// A section to mutate: a kind first, then one of that kind, so that
    /// the many pages sections of a dump do not crowd out the rest.
    fn section_index(&mut self, l: &Layout) -> usize {
        let i = self.rng.index(l.sections.len());
        if self.rng.one_in(4) {
            return i;
        }
        let kind = l.sections[i].kind;
        let mut kinds: Vec<u32> = l.sections.iter().map(|s| s.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let kind = if kinds.is_empty() {
            kind
        } else {
            kinds[self.rng.index(kinds.len())]
        };
        let of_kind: Vec<usize> = (0..l.sections.len())
            .filter(|&j| l.sections[j].kind == kind)
            .collect();
        of_kind[self.rng.index(of_kind.len())]
    }

    /// One mutation of a layout.
    fn dump_step(&mut self, l: &mut Layout) {
        let n = l.sections.len();
        let pick = self.rng.below(100);
        if n == 0 && pick < 90 {
            match self.pool_section(None) {
                Some(s) => {
                    self.log.push(format!("section of kind {} added", s.kind));
                    l.sections.push(s);
                }
                None => self.header_field(&mut l.header),
            }
            return;
        }
        let i = self.section_index(l);
        match pick {
            0..=13 => {
                self.log.push(format!("section {i}:"));
                self.bytes(&mut l.sections[i].payload);
            }
            14..=37 => {
                self.log
                    .push(format!("section {i} (kind {}):", l.sections[i].kind));
                let kind = l.sections[i].kind;
                self.field(kind, &mut l.sections[i].payload);
            }
            38..=45 => {
                self.log.push(format!("section {i}:"));
                self.resize(&mut l.sections[i].payload);
            }
            46..=49 => {
                // Bytes of another payload over this one.
                let Some(other) = self.pool_section(None) else {
                    return;
                };
                let dst = &mut l.sections[i].payload;
                if other.payload.is_empty() || dst.is_empty() {
                    return;
                }
                let from = self.rng.index(other.payload.len());
                let at = self.rng.index(dst.len());
                let n = (self.rng.below(64) as usize + 1)
                    .min(other.payload.len() - from)
                    .min(dst.len() - at);
                dst[at..at + n].copy_from_slice(&other.payload[from..from + n]);
                self.log
                    .push(format!("section {i}: {n} bytes spliced in at {at}"));
            }
            50..=52 => {
                let kind = l.sections[i].kind;
                if let Some(other) = self.pool_section(Some(kind)) {
                    l.sections[i].payload = other.payload;
                    self.log.push(format!(
                        "section {i}: payload of another kind {kind} section"
                    ));
                }
            }
            53..=57 => {
                l.sections.remove(i);
                self.log.push(format!("section {i} dropped"));
            }
            58..=62 => {
                let copy = l.sections[i].clone();
                let at = self.rng.index(n + 1);
                l.sections.insert(at, copy);
                self.log.push(format!("section {i} repeated at {at}"));
            }
            63..=67 => {
                let j = self.rng.index(n);
                if self.rng.one_in(2) {
                    l.sections.swap(i, j);
                    self.log.push(format!("sections {i} and {j} swapped"));
                } else {
                    let s = l.sections.remove(i);
                    l.sections.insert(j, s);
                    self.log.push(format!("section {i} moved to {j}"));
                }
            }
            68..=70 => {
                let old = l.sections[i].kind;
                let k = match self.rng.below(5) {
                    0 => self.rng.pick(&[0, 15, 16, 17, u32::MAX, 0x8000_0001]),
                    // Pages as compressed pages and back: each other's
                    // heads, a frame of raw pages.
                    1 if old == 7 => 16,
                    1 if old == 16 => 7,
                    _ => 1 + self.rng.below(16) as u32,
                };
                l.sections[i].kind = k;
                self.log.push(format!("section {i} kind := {k}"));
            }
            71..=74 => {
                let processes = l.header.get(28..32).map_or(1, le) as u32;
                let p = match self.rng.below(4) {
                    0 => self
                        .rng
                        .pick(&[processes, processes.wrapping_sub(1), u32::MAX]),
                    _ => self.rng.below(4) as u32,
                };
                l.sections[i].process = p;
                self.log.push(format!("section {i} process := {p}"));
            }
            75..=78 => {
                let own = l.sections[i].payload.len() as u64;
                let after: u64 = l.sections[i + 1..]
                    .iter()
                    .map(|s| s.payload.len() as u64 + 20)
                    .sum::<u64>()
                    + l.tail.len() as u64;
                let v = match self.rng.below(4) {
                    0 => own + after,
                    1 => own + after + 1,
                    2 => own.wrapping_add(self.rng.below(17)).wrapping_sub(8),
                    _ => self.rng.pick(INTERESTING),
                };
                l.sections[i].len = Some(v);
                self.log
                    .push(format!("section {i} framed length := {v:#x}"));
            }
            79 => {
                l.sections[i].checksum = Some(self.rng.bits() as u32);
                self.log.push(format!("section {i} checksum broken"));
            }
            80..=84 => {
                if let Some(s) = self.pool_section(None) {
                    let at = self.rng.index(n + 1);
                    self.log.push(format!(
                        "section of kind {} process {} spliced in at {at}",
                        s.kind, s.process
                    ));
                    l.sections.insert(at, s);
                }
            }
            85..=97 => self.header_field(&mut l.header),
            _ => {
                let n = self.rng.pick(&[1usize, 4, 16, 20, 24]);
                l.tail.extend((0..n).map(|_| self.rng.bits() as u8));
                self.log.push(format!("{n} bytes appended"));
            }
        }
    }

    /// A mutated dump from `seed`.
    pub fn dump(&mut self, seed: &Layout) -> Vec<u8> {
        let mut l = seed.clone();
        for _ in 0..self.rng.count(8) {
            self.dump_step(&mut l);
            if l.sections.iter().map(|s| s.payload.len()).sum::<usize>() > GROW_MAX {
                l = seed.clone();
                self.log.push("too large, back to the seed".into());
            }
        }
        let fix = Fix {
            count: !self.rng.one_in(25),
            size: !self.rng.one_in(25),
            header_checksum: !self.rng.one_in(50),
        };
        if !(fix.count && fix.size && fix.header_checksum) {
            self.log.push(format!("header fixed only as {fix:?}"));
        }
        let mut bytes = join(&l, fix);
        if self.rng.one_in(10) {
            self.raw(&mut bytes);
        }
        bytes
    }

    /// Byte mutations of a whole file, then fixes (or not).
    fn raw(&mut self, bytes: &mut Vec<u8>) {
        for _ in 0..self.rng.count(4) {
            match self.rng.below(4) {
                0 | 1 => {
                    self.log.push("file:".into());
                    self.bytes(bytes);
                }
                2 => {
                    let n = self.rng.index(bytes.len() + 1);
                    bytes.truncate(n);
                    self.log.push(format!("file cut to {n} bytes"));
                }
                _ => {
                    if bytes.len() >= 8 {
                        let at = self.rng.index(bytes.len() - 7);
                        let v = self.rng.pick(INTERESTING);
                        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
                        self.log
                            .push(format!("file bytes {at}..{} := {v:#x}", at + 8));
                    }
                }
            }
        }
        if self.rng.below(4) != 0 {
            if self.rng.one_in(2) {
                fix_section_checksums(bytes);
                self.log.push("section checksums fixed again".into());
            }
            if bytes.len() >= HEADER_SIZE {
                let n = bytes.len() as u64;
                bytes[104..112].copy_from_slice(&n.to_le_bytes());
            }
            seal_header(bytes);
            self.log
                .push("file size and header checksum fixed again".into());
        }
    }

    /// A mutated `/proc/chpox` line (command, listing or signal name).
    pub fn line(&mut self, lines: &[&[u8]]) -> Vec<u8> {
        const TOKENS: &[&[u8]] = &[
            b" ",
            b"\t",
            b"\n",
            b"0",
            b"1",
            b"9",
            b"12",
            b"34",
            b"64",
            b"65",
            b"0x",
            b"0X",
            b"0x9",
            b"0xffffffff",
            b"0x100000000",
            b"+",
            b"-",
            b"-1",
            b"+1",
            b"4294967295",
            b"4294967296",
            b"2147483647",
            b"2147483648",
            b"99999999999999999999",
            b"add",
            b"del",
            b"clear",
            b"restore",
            b"/",
            b"/tmp/",
            b"=",
            b"file=",
            b"pid=",
            b"last=",
            b"ok",
            b"failed",
            b"never",
            b"SIG",
            b"RT",
            b"RTMIN",
            b"RTMAX",
            b"SIGRTMIN",
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xf0\x9f\x98\x80",
            b"\x00",
            b"\x7f",
            b"\xff",
        ];
        let mut v = lines[self.rng.index(lines.len())].to_vec();
        for _ in 0..self.rng.count(6) {
            let len = v.len();
            match self.rng.below(9) {
                0 => self.bytes(&mut v),
                1..=3 => {
                    let at = self.rng.index(len + 1);
                    let t = self.rng.pick(TOKENS);
                    v.splice(at..at, t.iter().copied());
                    self.log
                        .push(format!("\"{}\" inserted at {at}", t.escape_ascii()));
                }
                4 => {
                    let at = self.rng.index(len + 1);
                    let n = (self.rng.below(8) as usize + 1).min(len - at);
                    v.drain(at..at + n);
                    self.log.push(format!("{n} bytes deleted at {at}"));
                }
                5 => {
                    let at = self.rng.index(len + 1);
                    let n = (self.rng.below(12) as usize + 1).min(len - at);
                    let copy = v[at..at + n].to_vec();
                    let to = self.rng.index(len + 1);
                    v.splice(to..to, copy);
                    self.log.push(format!("{n} bytes at {at} repeated at {to}"));
                }
                6 => {
                    let n = self.rng.index(len + 1);
                    v.truncate(n);
                    self.log.push(format!("cut to {n}"));
                }
                7 => {
                    // Lengths around the limits on paths and commands.
                    let target = self.rng.pick(&[
                        PATH_MAX - 1,
                        PATH_MAX,
                        PATH_MAX + 1,
                        PATH_MAX + 12,
                        COMMAND_MAX - 1,
                        COMMAND_MAX,
                        COMMAND_MAX + 1,
                    ]);
                    if target > len {
                        let at = if self.rng.one_in(2) {
                            len
                        } else {
                            self.rng.index(len + 1)
                        };
                        v.splice(at..at, std::iter::repeat(b'a').take(target - len));
                        self.log.push(format!("padded to {target} at {at}"));
                    }
                }
                _ => {
                    let other = lines[self.rng.index(lines.len())];
                    let from = self.rng.index(other.len() + 1);
                    let at = self.rng.index(len + 1);
                    v.splice(at..at, other[from..].iter().copied());
                    self.log
                        .push(format!("tail of another line inserted at {at}"));
                }
            }
        }
        v
    }
}
