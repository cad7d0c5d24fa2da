// SPDX-License-Identifier: GPL-2.0

//! The memory of a process: its layout ([`SectionKind::Mm`](super::SectionKind::Mm)), its map
//! ([`SectionKind::Vmas`](super::SectionKind::Vmas)) and the contents of its pages
//! ([`SectionKind::Pages`](super::SectionKind::Pages)).

use super::{put_padded, DumpError, Reader, PAGE_SIZE, USER_END};

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

    /// Whether an area with `flags` is private anonymous memory, whose
    /// pages a lazy restore leaves for ld-chpox to fill on demand
    /// (userfaultfd serves no other private memory).
    pub const fn private_anonymous(flags: u32) -> bool {
        flags & (SHARED | FILE | VDSO | VVAR) == 0
    }
}

record! {
    /// One memory area of a [`SectionKind::Vmas`](super::SectionKind::Vmas) payload: the record,
    /// then its path padded to 8 bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Vma<'a> ["vma", lens VmaLens] {
        /// First address.
        start: u64,
        /// Address after the last byte.
        end: u64,
        /// Offset in the backing file, in bytes.
        offset: u64,
        /// [`prot`] bits: read 1, write 2, execute 4 (`PROT_*`).
        prot: u32,
        /// [`vma_flags`] bits: shared 1, grows down 2, file 4, heap 8,
        /// stack 16, vDSO 32, vvar 64.
        flags: u32,
        /// Length of the path after the record.
        let path_len: u32,
        pad 4,
        /// The backing file as it was (zero when not [`vma_flags::FILE`]).
        stamp: FileStamp,
        /// Backing file (empty when not [`vma_flags::FILE`]).
        tail path: &'a [u8],
    }
}

record! {
    /// Size and modification time of a mapped file: the pages of a private
    /// file mapping that were never written are read from the file again
    /// on restore, so it must not have changed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct FileStamp ["file stamp"] {
        /// Size in bytes.
        size: u64,
        /// Last modification, nanoseconds since the epoch.
        mtime_ns: u64,
    }
}

/// Size of the fixed part of a [`Vma`] entry.
pub const VMA_SIZE: usize = Vma::SIZE;

impl<'a> Vma<'a> {
    /// Bytes the entry takes in a [`SectionKind::Vmas`](super::SectionKind::Vmas) payload.
    pub fn encoded_len(&self) -> usize {
        VMA_SIZE + super::pad8(self.path.len())
    }

    /// Writes the entry.
    pub fn encode(&self, out: &mut dyn FnMut(&[u8])) {
        let path_len = self.path.len() as u32;
        self.put_with(&VmaLens { path_len }, out);
        put_padded(out, self.path);
    }

    fn decode(r: &mut Reader<'a>) -> Result<Vma<'a>, DumpError> {
        let (mut v, lens) = Vma::read_with(r)?;
        let len = lens.path_len as usize;
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

record! {
    /// The head of a list of entries ([`SectionKind::Vmas`](super::SectionKind::Vmas),
    /// [`SectionKind::Files`](super::SectionKind::Files)) or of a socket's queued message.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ListHead ["list head"] {
        /// Number of entries (of bytes, for a message) that follow.
        count: u32,
        pad 4,
    }
}

/// Reads a list: its [`ListHead`], then `count` entries read by `entry`,
/// checked whole first (`check` sees each entry and the one before it) so
/// that the iterator handed out cannot fail. `too_long` is the error when
/// bytes are left after the entries.
pub(crate) fn decode_list<'a, T: 'a>(
    payload: &'a [u8],
    entry: fn(&mut Reader<'a>) -> Result<T, DumpError>,
    check: impl Fn(Option<&T>, &T) -> Result<(), DumpError>,
    too_long: &'static str,
) -> Result<impl Iterator<Item = T> + Clone + 'a, DumpError> {
    let mut r = Reader::new(payload);
    let count = ListHead::read(&mut r)?.count;
    let entries = r.rest();
    let mut all = Reader::new(entries);
    let mut prev = None;
    for _ in 0..count {
        let e = entry(&mut all)?;
        check(prev.as_ref(), &e)?;
        prev = Some(e);
    }
    if !all.rest().is_empty() {
        return Err(DumpError::Invalid(too_long));
    }
    let mut r = Reader::new(entries);
    Ok((0..count).map_while(move |_| entry(&mut r).ok()))
}

/// Reads a [`SectionKind::Vmas`](super::SectionKind::Vmas) payload: sorted, non-overlapping areas.
pub fn decode_vmas<'a>(
    payload: &'a [u8],
) -> Result<impl Iterator<Item = Vma<'a>> + Clone + 'a, DumpError> {
    decode_list(
        payload,
        Vma::decode,
        |prev, v| match prev {
            Some(p) if v.start < p.end => {
                Err(DumpError::Invalid("memory areas overlap or are unsorted"))
            }
            _ => Ok(()),
        },
        "memory map section too long",
    )
}

/// Writes the 8-byte head of a [`SectionKind::Vmas`](super::SectionKind::Vmas) payload.
pub fn vmas_head(count: u32) -> [u8; ListHead::SIZE] {
    ListHead { count }.encode()
}

record! {
    /// Pages of one memory area: the head of a [`SectionKind::Pages`](super::SectionKind::Pages)
    /// payload, followed by `count` page addresses (`u64` each, sorted)
    /// and `count` pages; or of a [`SectionKind::ZstdPages`](super::SectionKind::ZstdPages)
    /// payload, followed by the addresses and one zstd frame of the pages.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PagesHead ["pages"] {
        /// Index of the area in the process's memory map.
        vma: u32,
        /// Number of pages.
        count: u32,
    }
}

/// Most pages of one [`SectionKind::ZstdPages`](super::SectionKind::ZstdPages)
/// section: what the module compresses at a time, and so the most that one
/// frame, however crafted, can make a reader decompress.
pub const ZSTD_PAGES_MAX: u32 = 64;

/// Longest zstd frame of a [`SectionKind::ZstdPages`](super::SectionKind::ZstdPages)
/// section: above zstd's bound for [`ZSTD_PAGES_MAX`] incompressible pages
/// (the pages plus 1/256 and a few bytes).
pub const ZSTD_FRAME_MAX: u64 = ZSTD_PAGES_MAX as u64 * PAGE_SIZE + 4096;

impl PagesHead {
    /// Payload length for `count` pages.
    pub fn payload_len(count: u32) -> u64 {
        Self::SIZE as u64 + count as u64 * (8 + PAGE_SIZE)
    }

    /// Reads the head of a payload of `len` bytes, for a reader that
    /// streams the rest (the kernel's): the length must be the one the count
    /// gives.
    pub fn decode_head(head: &[u8; Self::SIZE], len: u64) -> Result<PagesHead, DumpError> {
        let head = PagesHead::read(&mut Reader::new(head))?;
        if Self::payload_len(head.count) != len {
            return Err(DumpError::Invalid("pages section of the wrong size"));
        }
        Ok(head)
    }

    /// Reads the head of a [`SectionKind::ZstdPages`](super::SectionKind::ZstdPages)
    /// payload of `len` bytes: one to [`ZSTD_PAGES_MAX`] pages, and a frame
    /// of one byte to [`ZSTD_FRAME_MAX`] after the addresses.
    pub fn decode_zstd_head(head: &[u8; Self::SIZE], len: u64) -> Result<PagesHead, DumpError> {
        let head = PagesHead::read(&mut Reader::new(head))?;
        let frame = len.checked_sub(Self::kept_len(head.count));
        if head.count == 0
            || head.count > ZSTD_PAGES_MAX
            || !frame.is_some_and(|f| (1..=ZSTD_FRAME_MAX).contains(&f))
        {
            return Err(DumpError::Invalid(
                "compressed pages section of the wrong size",
            ));
        }
        Ok(head)
    }

    /// Reads the head of a pages section of `kind` ([`SectionKind::Pages`](super::SectionKind::Pages)
    /// or [`SectionKind::ZstdPages`](super::SectionKind::ZstdPages)) whose payload is `len`
    /// bytes.
    pub fn decode_head_of(
        kind: super::SectionKind,
        head: &[u8; Self::SIZE],
        len: u64,
    ) -> Result<PagesHead, DumpError> {
        match kind {
            super::SectionKind::ZstdPages => Self::decode_zstd_head(head, len),
            _ => Self::decode_head(head, len),
        }
    }

    /// Reads a [`SectionKind::ZstdPages`](super::SectionKind::ZstdPages)
    /// payload checked against its area: the addresses (sorted, page
    /// aligned, inside the area) and the zstd frame, which is not looked
    /// into (whoever decompresses it bounds its output to `count` pages).
    pub fn decode_zstd<'a>(
        payload: &'a [u8],
        area: &Vma<'_>,
    ) -> Result<(PagesHead, &'a [u8], &'a [u8]), DumpError> {
        Self::decode_of(super::SectionKind::ZstdPages, payload, area)
    }

    /// Reads the payload of a pages section of `kind` checked against its
    /// area: its head ([`PagesHead::decode_head_of`]), its addresses
    /// (sorted, page aligned, inside the area) and what follows them.
    pub fn decode_of<'a>(
        kind: super::SectionKind,
        payload: &'a [u8],
        area: &Vma<'_>,
    ) -> Result<(PagesHead, &'a [u8], &'a [u8]), DumpError> {
        let mut r = Reader::new(payload);
        let head = Self::decode_head_of(kind, &r.array("pages head")?, payload.len() as u64)?;
        let addrs = usize::try_from(u64::from(head.count) * 8)
            .map_err(|_| DumpError::Invalid("page addresses"))?;
        let addrs = r.take(addrs, "page addresses")?;
        check_page_addresses(addrs, area, &mut None)?;
        Ok((head, addrs, r.rest()))
    }

    /// Bytes of a payload of `count` pages that ld-chpox keeps in memory
    /// ([`super::elide`]): the head and the addresses, not the pages.
    pub const fn kept_len(count: u32) -> u64 {
        Self::SIZE as u64 + count as u64 * 8
    }

    /// Offset in the file of the first page of a
    /// [`SectionKind::Pages`](super::SectionKind::Pages) section of
    /// `count` pages whose framing is at `at`: right after what
    /// [`super::elide`] keeps of it.
    pub const fn pages_offset(at: u64, count: u32) -> u64 {
        at + super::SECTION_HEAD as u64 + Self::kept_len(count)
    }

    /// Reads a payload whose pages were left out
    /// ([`Dump::parse_elided`](super::Dump::parse_elided)), checked against
    /// its area: the head and exactly its addresses (sorted, page aligned,
    /// inside the area). That the section's real length is the one the
    /// count gives is checked by the walk of the sections, which has it.
    pub fn decode_elided<'a>(
        payload: &'a [u8],
        area: &Vma<'_>,
    ) -> Result<(PagesHead, &'a [u8]), DumpError> {
        let mut r = Reader::new(payload);
        let head = PagesHead::read(&mut r)?;
        if Self::kept_len(head.count) != payload.len() as u64 {
            return Err(DumpError::Invalid("pages section of the wrong size"));
        }
        let addrs = r.rest();
        check_page_addresses(addrs, area, &mut None)?;
        Ok((head, addrs))
    }

    /// Reads a payload checked against its area: the addresses (sorted, page
    /// aligned, inside the area) and the page contents.
    pub fn decode<'a>(
        payload: &'a [u8],
        area: &Vma<'_>,
    ) -> Result<(PagesHead, &'a [u8], &'a [u8]), DumpError> {
        Self::decode_of(super::SectionKind::Pages, payload, area)
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

record! {
    /// The address-space layout the kernel keeps in `mm_struct`: what
    /// `brk()`, `/proc/<pid>/cmdline`, `environ` and `auxv` rely on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MmLayout ["mm"] {
        /// `start_code, end_code, start_data, end_data, start_brk, brk,
        /// start_stack, arg_start, arg_end, env_start, env_end`.
        fields: [u64; 11],
        /// `saved_auxv` (pairs of type and value, ending with AT_NULL).
        auxv: [u64; 52],
    }
}
const _: () = assert!(MmLayout::FIELDS == 11 && MmLayout::AUXV == 52);

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

    /// Reads and checks a payload. The saved auxv is made to end with an
    /// `AT_NULL` pair whatever the file says, as `prctl(PR_SET_MM_MAP)`
    /// does: `/proc/<pid>/auxv` reads up to the first `AT_NULL`, and
    /// would otherwise read past the array.
    pub fn decode(payload: &[u8]) -> Result<MmLayout, DumpError> {
        let mut m: MmLayout = super::exact(payload, "mm section of the wrong size")?;
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

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
        m.put(&mut |x| b.extend_from_slice(x));
        let back = MmLayout::decode(&b).unwrap();
        assert_eq!(back.fields, m.fields);
        assert_eq!(
            back.auxv[..MmLayout::AUXV - 2],
            m.auxv[..MmLayout::AUXV - 2]
        );
        assert_eq!(back.auxv[MmLayout::AUXV - 2..], [0, 0]);
    }

    #[test]
    fn layouts_round_trip() {
        let mut m = MmLayout {
            fields: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            ..Default::default()
        };
        m.auxv[0] = 6;
        let mut b = Vec::new();
        m.put(&mut |x| b.extend_from_slice(x));
        assert_eq!(MmLayout::decode(&b), Ok(m));
        b[8] = 0;
        assert!(MmLayout::decode(&b).is_err(), "end_code before start_code");
    }

    /// [`PagesHead`] of [`SectionKind::ZstdPages`](super::super::SectionKind::ZstdPages)
    /// payloads: the limits of the count and the frame, and that the frame
    /// is handed back as it is.
    mod zstd_pages {
        extern crate std;
        use super::super::super::{SectionKind, SectionWriter};
        use super::super::*;
        use std::vec::Vec;

        /// An anonymous area of 100 pages at 0x10_0000.
        const AREA: Vma<'static> = Vma {
            start: 0x10_0000,
            end: 0x10_0000 + 100 * PAGE_SIZE,
            offset: 0,
            prot: prot::READ | prot::WRITE,
            flags: 0,
            path: b"",
            stamp: FileStamp {
                size: 0,
                mtime_ns: 0,
            },
        };

        /// A payload: head of `count`, the first `count` pages of
        /// [`AREA`], a frame of `frame` bytes.
        fn payload(count: u32, frame: usize) -> Vec<u8> {
            let mut p = Vec::from(PagesHead { vma: 0, count }.encode());
            for i in 0..u64::from(count) {
                p.extend_from_slice(&(AREA.start + i * PAGE_SIZE).to_le_bytes());
            }
            p.extend((0..frame).map(|i| i as u8));
            p
        }

        fn head(p: &[u8]) -> [u8; PagesHead::SIZE] {
            p[..PagesHead::SIZE].try_into().unwrap()
        }

        #[test]
        fn limits_of_count_and_frame() {
            let size = Err(DumpError::Invalid(
                "compressed pages section of the wrong size",
            ));
            for (count, frame) in [
                (1, 1),
                (1, ZSTD_FRAME_MAX as usize),
                (ZSTD_PAGES_MAX, 1),
                (ZSTD_PAGES_MAX, ZSTD_FRAME_MAX as usize),
                (7, 4096 * 7),
            ] {
                let p = payload(count, frame);
                let (h, addrs, f) = PagesHead::decode_zstd(&p, &AREA).unwrap();
                assert_eq!(h, PagesHead { vma: 0, count });
                assert_eq!(addrs, &p[8..8 + 8 * count as usize]);
                assert_eq!(f.len(), frame);
                assert_eq!(f, &p[PagesHead::kept_len(count) as usize..]);
                let len = p.len() as u64;
                assert_eq!(PagesHead::decode_zstd_head(&head(&p), len), Ok(h));
                // The section the kernel reads whole fits its buffer.
                assert!(
                    SectionWriter::size(len)
                        <= SectionWriter::size(
                            PagesHead::kept_len(ZSTD_PAGES_MAX) + ZSTD_FRAME_MAX
                        )
                );
            }
            for (count, frame) in [
                (0, 1),
                (0, 4096),
                (ZSTD_PAGES_MAX + 1, 1),
                (2, 0),
                (ZSTD_PAGES_MAX, 0),
                (1, ZSTD_FRAME_MAX as usize + 1),
            ] {
                let p = payload(count, frame);
                assert_eq!(
                    PagesHead::decode_zstd(&p, &AREA).map(|_| ()),
                    size,
                    "{count} pages, a frame of {frame}"
                );
                let len = p.len() as u64;
                assert_eq!(
                    PagesHead::decode_zstd_head(&head(&p), len).map(|_| ()),
                    size
                );
            }
            // Counts and lengths that would overflow a careless sum.
            for count in [u32::MAX, u32::MAX / 8 + 1, 1 << 29] {
                let h = PagesHead { vma: 0, count }.encode();
                for len in [0, 7, 8, u64::MAX, PagesHead::kept_len(count) + 1] {
                    assert_eq!(
                        PagesHead::decode_zstd_head(&h, len).map(|_| ()),
                        size,
                        "{count} {len}"
                    );
                }
            }
            assert!(PagesHead::decode_zstd(&payload(1, 1)[..7], &AREA).is_err());
        }

        #[test]
        fn addresses_are_checked_against_the_area() {
            let mut p = payload(3, 10);
            assert!(PagesHead::decode_zstd(&p, &AREA).is_ok());
            let outside = Err(DumpError::Invalid(
                "page address outside its area or unsorted",
            ));
            for bad in [
                AREA.end,
                AREA.start - PAGE_SIZE,
                AREA.start + 1,
                AREA.start, // the first again
            ] {
                p[16..24].copy_from_slice(&bad.to_le_bytes());
                assert_eq!(
                    PagesHead::decode_zstd(&p, &AREA).map(|_| ()),
                    outside,
                    "{bad:#x}"
                );
            }
        }

        #[test]
        fn heads_are_read_by_kind() {
            use SectionKind::{Pages, ZstdPages};
            // A head and a length each kind takes: plain pages of two
            // pages is also two compressed pages with a frame of 8192
            // bytes; a compressed one of a 5-byte frame is no pages.
            let two = PagesHead { vma: 0, count: 2 }.encode();
            let plain = PagesHead::payload_len(2);
            assert!(PagesHead::decode_head_of(Pages, &two, plain).is_ok());
            assert!(PagesHead::decode_head_of(ZstdPages, &two, plain).is_ok());
            let small = PagesHead::kept_len(2) + 5;
            assert!(PagesHead::decode_head_of(Pages, &two, small).is_err());
            assert!(PagesHead::decode_head_of(ZstdPages, &two, small).is_ok());
            // No pages: plain pages may say so; compressed pages not.
            let none = PagesHead { vma: 0, count: 0 }.encode();
            assert!(PagesHead::decode_head_of(Pages, &none, 8).is_ok());
            assert!(PagesHead::decode_head_of(ZstdPages, &none, 9).is_err());
            // Other kinds read as plain pages.
            assert_eq!(
                PagesHead::decode_head_of(SectionKind::Vmas, &two, small),
                PagesHead::decode_head(&two, small)
            );
        }

        #[test]
        fn kinds_with_pages() {
            // kept_len is usable in constants, as the kernel's buffer size.
            const KEPT: u64 = PagesHead::kept_len(ZSTD_PAGES_MAX);
            assert_eq!(KEPT, 8 + 64 * 8);
            assert_eq!(ZSTD_FRAME_MAX, 65 * PAGE_SIZE);
            assert_eq!(SectionKind::from_u32(16), Some(SectionKind::ZstdPages));
            assert_eq!(SectionKind::from_u32(17), None);
            for k in 0..=32 {
                if let Some(kind) = SectionKind::from_u32(k) {
                    assert_eq!(kind as u32, k);
                    assert_eq!(kind.has_pages(), k == 7 || k == 16, "{kind:?}");
                }
            }
        }
    }
}
