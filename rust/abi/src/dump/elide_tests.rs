// SPDX-License-Identifier: GPL-2.0

//! Tests of [`elide`] and [`Dump::parse_elided`]: the image ld-chpox keeps
//! of a dump checks as the whole file does, but for the pages it never
//! reads.

extern crate std;
use super::super::sink::VecSink;
use super::tests::sample;
use super::*;
use std::vec::Vec;

/// A file in memory that notes how many bytes were read of it.
struct File<'a> {
    bytes: &'a [u8],
    read: u64,
}

impl ReadAt for File<'_> {
    type Error = DumpError;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DumpError> {
        let at = usize::try_from(offset).unwrap();
        let src = self
            .bytes
            .get(at..at + buf.len())
            .ok_or(DumpError::Invalid("read past the end"))?;
        buf.copy_from_slice(src);
        self.read += buf.len() as u64;
        Ok(())
    }
}

/// The image of `bytes` (a file of `file_len` bytes, its length unless a
/// test lies), and the bytes read to make it.
fn image_of(bytes: &[u8], file_len: u64, limit: u64) -> Result<(Vec<u8>, u64), DumpError> {
    let mut file = File { bytes, read: 0 };
    let mut out = VecSink(Vec::new());
    elide(&mut file, file_len, &mut out, limit)?;
    Ok((out.0, file.read))
}

/// Elided and parsed: what ld-chpox does with `bytes`.
fn elided(bytes: &[u8]) -> Result<Vec<u8>, DumpError> {
    let (image, _) = image_of(bytes, bytes.len() as u64, u64::MAX)?;
    Dump::parse_elided(&image, bytes.len() as u64)?;
    Ok(image)
}

/// Offset of the first pages section of `bytes` and its payload length.
fn first_pages(bytes: &[u8]) -> (usize, usize) {
    let dump = Dump::parse(bytes).unwrap();
    let mut at = HEADER_SIZE;
    for s in dump.sections() {
        if s.kind == SectionKind::Pages {
            return (at, s.payload.len());
        }
        at += SECTION_HEAD + s.payload.len() + SECTION_TAIL;
    }
    panic!("no pages section");
}

/// The elided dump has the sections of the whole one, each pages payload
/// (of either kind) cut after its addresses, and the same page addresses;
/// nothing of the pages or zstd frames was read. Returns the number of
/// pages sections.
fn same_as_whole(bytes: &[u8]) -> usize {
    let whole = Dump::parse(bytes).unwrap();
    let (image, read) = image_of(bytes, bytes.len() as u64, u64::MAX).unwrap();
    // Each frame is read, then copied; a pages head too: nothing else
    // twice, and no page.
    let pages_sections = whole.sections().filter(|s| s.kind.has_pages()).count();
    let again = SECTION_HEAD * whole.sections().count() + PagesHead::SIZE * pages_sections;
    assert_eq!(read, (image.len() + again) as u64);
    let lean = Dump::parse_elided(&image, bytes.len() as u64).unwrap();
    assert_eq!(lean.header, whole.header);
    assert_eq!(lean.sections().count(), whole.sections().count());
    let mut pages = 0;
    let mut cut = 0;
    for (a, b) in lean.sections().zip(whole.sections()) {
        assert_eq!((a.kind, a.process), (b.kind, b.process));
        if !a.kind.has_pages() {
            assert_eq!(a.payload, b.payload);
            continue;
        }
        let (head, _) = PagesHead::read_from(a.payload);
        assert_eq!(a.payload.len() as u64, PagesHead::kept_len(head.count));
        assert_eq!(a.payload, &b.payload[..a.payload.len()]);
        cut += b.payload.len() - a.payload.len() + SECTION_TAIL;
        pages += 1;
    }
    // Cut: the pages or frames, and the checksums.
    assert_eq!(bytes.len() - image.len(), cut);
    assert_eq!(lean.validate(), whole.validate());
    pages
}

impl PagesHead {
    /// The head at the start of a payload (a test's own, trusted).
    fn read_from(payload: &[u8]) -> (PagesHead, &[u8]) {
        let mut r = Reader::new(payload);
        (PagesHead::read(&mut r).unwrap(), r.rest())
    }
}

#[test]
fn the_sample_elides_to_what_parse_sees() {
    let bytes = sample();
    assert_eq!(same_as_whole(&bytes), 1);
    let image = elided(&bytes).unwrap();
    assert_eq!(bytes.len() - image.len(), PAGE_SIZE as usize + SECTION_TAIL);
}

#[test]
fn real_dumps_elide_to_what_parse_sees() {
    for (path, bytes) in super::doc_tables::seed_dumps() {
        assert!(same_as_whole(&bytes) > 0, "{}", path.display());
        let dump = Dump::parse(&bytes).unwrap();
        dump.validate().unwrap();
        let image = elided(&bytes).unwrap();
        let lean = Dump::parse_elided(&image, bytes.len() as u64).unwrap();
        lean.validate().unwrap();
        // Of the pages, 8 bytes of address are kept of every 4096; of
        // compressed pages, the addresses and not the frame.
        let cut = (bytes.len() - image.len()) as u64;
        let expected: u64 = dump
            .sections()
            .filter(|s| s.kind.has_pages())
            .map(|s| {
                let count = PagesHead::read_from(s.payload).0.count;
                if s.kind == SectionKind::Pages {
                    assert_eq!(s.payload.len() as u64, PagesHead::payload_len(count));
                }
                s.payload.len() as u64 - PagesHead::kept_len(count) + SECTION_TAIL as u64
            })
            .sum();
        assert_eq!(cut, expected);
    }
}

#[test]
fn the_whole_file_is_no_elided_image() {
    let bytes = sample();
    let len = bytes.len() as u64;
    assert!(Dump::parse_elided(&bytes, len).is_err());
    let image = elided(&bytes).unwrap();
    // The image of another length of file, or with a byte more or less.
    assert!(matches!(
        Dump::parse_elided(&image, len + 1),
        Err(DumpError::Length { .. })
    ));
    let mut longer = image.clone();
    longer.push(0);
    assert!(Dump::parse_elided(&longer, len).is_err());
    for n in 0..image.len() {
        assert!(Dump::parse_elided(&image[..n], len).is_err(), "cut to {n}");
    }
}

#[test]
fn every_truncation_is_caught() {
    let bytes = sample();
    for n in 0..bytes.len() {
        assert!(
            elided(&bytes[..n]).is_err(),
            "truncation to {n} went unnoticed"
        );
    }
    // A file shorter than its image would need: the header says more.
    assert_eq!(
        image_of(&bytes, 100, u64::MAX).unwrap_err(),
        DumpError::TooShort
    );
    assert!(matches!(
        image_of(&bytes, bytes.len() as u64 - 1, u64::MAX),
        Err(DumpError::Length { .. })
    ));
}

#[test]
fn flipped_bytes_are_caught_but_in_the_pages() {
    let bytes = sample();
    let (pages_at, len) = first_pages(&bytes);
    let addresses = pages_at + SECTION_HEAD + PagesHead::SIZE;
    let unchecked = addresses..pages_at + SECTION_HEAD + len + SECTION_TAIL;
    // The area number of the pages: validate() checks it.
    let area = pages_at + SECTION_HEAD..pages_at + SECTION_HEAD + 4;
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        let result = elided(&bad);
        if unchecked.contains(&i) {
            // The module verifies these as it reads them.
            assert!(result.is_ok(), "flip at {i}: {result:?}");
        } else if !area.contains(&i) {
            assert!(result.is_err(), "flip at {i} went unnoticed");
        }
    }
}

#[test]
fn lying_lengths_and_counts_are_refused() {
    let bytes = sample();
    let (pages_at, _) = first_pages(&bytes);
    let header = Header::decode(&bytes).unwrap();
    let patch = |at: usize, value: &[u8]| {
        let mut bad = bytes.clone();
        bad[at..at + value.len()].copy_from_slice(value);
        bad
    };
    // A pages count that its length does not match, either way.
    for count in [0u32, 2, u32::MAX] {
        let bad = patch(pages_at + SECTION_HEAD + 4, &count.to_le_bytes());
        assert!(elided(&bad).is_err(), "count {count}");
    }
    // Pages lengths past the file, short of a head, not the count's.
    for len in [u64::MAX, u64::MAX - 19, 7, 0, PagesHead::payload_len(1) - 1] {
        let bad = patch(pages_at + 8, &len.to_le_bytes());
        assert!(elided(&bad).is_err(), "length {len}");
    }
    // The first section (process) said longer than any the module reads:
    // refused before anything is read of it.
    let mut bad = patch(HEADER_SIZE + 8, &(SECTION_MAX + 1).to_le_bytes());
    let mut h = header;
    h.file_size = SECTION_MAX + 1000;
    bad[..HEADER_SIZE].copy_from_slice(&h.encode());
    let (err, read) = {
        let mut file = File {
            bytes: &bad,
            read: 0,
        };
        let mut out = VecSink(Vec::new());
        let e = elide(&mut file, h.file_size, &mut out, u64::MAX).unwrap_err();
        (e, file.read)
    };
    assert_eq!(
        err,
        DumpError::Invalid("a section longer than any dump has")
    );
    assert_eq!(read, (HEADER_SIZE + SECTION_HEAD) as u64);
    // An image past the limit.
    let image = elided(&bytes).unwrap();
    let len = bytes.len() as u64;
    assert!(image_of(&bytes, len, image.len() as u64).is_ok());
    assert!(image_of(&bytes, len, image.len() as u64 - 1).is_err());
}

#[test]
fn elided_pages_are_checked_against_their_area() {
    let area = super::tests::two_page_area();
    let payload = |count: u32, addrs: &[u64]| {
        let mut p = PagesHead { vma: 0, count }.encode().to_vec();
        for a in addrs {
            p.extend_from_slice(&a.to_le_bytes());
        }
        p
    };
    let ok = payload(2, &[0x1000, 0x2000]);
    let (head, addrs) = PagesHead::decode_elided(&ok, &area).unwrap();
    assert_eq!((head.count, addrs.len()), (2, 16));
    for bad in [
        payload(2, &[0x1000]),
        payload(1, &[0x1000, 0x2000]),
        payload(2, &[0x2000, 0x1000]),
        payload(1, &[0x3000]),
        payload(1, &[0x1800]),
        payload(u32::MAX, &[0x1000]),
        ok[..7].to_vec(),
    ] {
        assert!(PagesHead::decode_elided(&bad, &area).is_err(), "{bad:x?}");
    }
}

/// [`super::tests::paged`] with compressed pages: two sections of one
/// area, then one of another, then plain pages; and the offset and
/// payload length of each pages section.
fn compressed() -> (Vec<u8>, Vec<(usize, usize)>) {
    use super::tests::{page_run, paged, pages_payload, zstd_payload};
    use SectionKind::{Pages, ZstdPages};
    let bytes = paged(&[
        (ZstdPages, zstd_payload(1, 3, &page_run(0x70_0000, 3), 40)),
        (ZstdPages, zstd_payload(1, 2, &page_run(0x70_5000, 2), 1)),
        (ZstdPages, zstd_payload(2, 1, &[0x90_2000], 4096 + 17)),
        (Pages, pages_payload(2, &[0x90_3000])),
    ]);
    let mut at = HEADER_SIZE;
    let mut pages = Vec::new();
    for s in Dump::parse(&bytes).unwrap().sections() {
        if s.kind.has_pages() {
            pages.push((at, s.payload.len()));
        }
        at += SECTION_HEAD + s.payload.len() + SECTION_TAIL;
    }
    (bytes, pages)
}

#[test]
fn compressed_pages_elide_to_what_parse_sees() {
    let (bytes, pages) = compressed();
    assert_eq!(pages.len(), 4);
    let whole = Dump::parse(&bytes).unwrap();
    assert_eq!(whole.validate(), Ok(()));
    assert_eq!(same_as_whole(&bytes), 4);
    let image = elided(&bytes).unwrap();
    // The frames and the checksums cut, 40 + 1 + 4113 bytes of frame.
    assert_eq!(
        bytes.len() - image.len(),
        40 + 1 + 4113 + PAGE_SIZE as usize + 4 * SECTION_TAIL
    );
    let lean = Dump::parse_elided(&image, bytes.len() as u64).unwrap();
    assert_eq!(lean.validate(), Ok(()));
    // The same addresses from the image as from the file.
    let areas = super::tests::paged_areas();
    let kinds = [
        SectionKind::ZstdPages,
        SectionKind::ZstdPages,
        SectionKind::ZstdPages,
        SectionKind::Pages,
    ];
    let pages_of = |d: &Dump<'_>| -> Vec<_> {
        d.sections()
            .filter(|s| s.kind.has_pages())
            .map(|s| {
                let area = &areas[usize::from(s.payload[0])];
                let (head, addrs) = d.page_addresses(&s, area).unwrap();
                (s.kind, head.count, addrs.to_vec())
            })
            .collect()
    };
    let (a, b) = (pages_of(&whole), pages_of(&lean));
    assert_eq!(a, b);
    assert_eq!(a.iter().map(|p| p.0).collect::<Vec<_>>(), kinds);
    assert_eq!(a.iter().map(|p| p.1).collect::<Vec<_>>(), [3, 2, 1, 1]);
    // Nothing of a frame is looked at: a file whose frames (and
    // checksums) are garbage elides alike.
    let mut holes = bytes.clone();
    for &(at, len) in &pages[..3] {
        let count = holes[at + SECTION_HEAD + 4] as u64;
        let frame = at + SECTION_HEAD + PagesHead::kept_len(count as u32) as usize;
        holes[frame..at + SECTION_HEAD + len + SECTION_TAIL].fill(0xee);
    }
    assert!(Dump::parse(&holes).is_err(), "checksums of the frames");
    assert_eq!(elided(&holes).unwrap(), image);
    // Every cut of the file is refused.
    for n in 0..bytes.len() {
        assert!(elided(&bytes[..n]).is_err(), "truncation to {n}");
    }
}

#[test]
fn flipped_bytes_are_caught_but_in_the_frames() {
    let (bytes, pages) = compressed();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert!(Dump::parse(&bad).is_err(), "flip at {i}, whole file");
        // In a pages section, its addresses, frame (or pages) and checksum
        // are the module's to verify: the image parses. Anywhere else,
        // the image is refused or does not validate (a compressed pages
        // count is not bound by the length: another count parses, its
        // addresses then read out of place).
        let unchecked = pages.iter().any(|&(at, len)| {
            (at + SECTION_HEAD + PagesHead::SIZE..at + SECTION_HEAD + len + SECTION_TAIL)
                .contains(&i)
        });
        if unchecked {
            let result = elided(&bad);
            assert!(result.is_ok(), "flip at {i}: {result:?}");
        } else {
            assert!(ld_chpox(&bad).is_err(), "flip at {i} went unnoticed");
        }
    }
}

/// What ld-chpox says of a dump: elided, parsed, validated.
fn ld_chpox(bytes: &[u8]) -> Result<(), DumpError> {
    let image = elided(bytes)?;
    Dump::parse_elided(&image, bytes.len() as u64)?.validate()
}

/// What ld-chpox says of [`super::tests::paged`] with these pages
/// sections: elided, parsed, validated; and it agrees with the whole file.
fn elided_validate(pages: &[(SectionKind, Vec<u8>)]) -> Result<(), DumpError> {
    let bytes = super::tests::paged(pages);
    let whole = Dump::parse(&bytes).unwrap().validate();
    let lean = ld_chpox(&bytes);
    assert_eq!(lean, whole, "the image validates as the file");
    lean
}

#[test]
fn elided_compressed_pages_are_refused_alike() {
    use super::tests::{page_run, pages_payload, zstd_payload};
    use SectionKind::{Pages, ZstdPages};
    let invalid = |what| Err(DumpError::Invalid(what));
    let size = invalid("compressed pages section of the wrong size");
    let outside = invalid("page address outside its area or unsorted");
    let unsorted = invalid("page sections unsorted or repeated");
    let missing = invalid("pages of a memory area that does not exist");
    let zstd = |vma: u32, count: u32, addrs: &[u64], frame: usize| {
        (ZstdPages, zstd_payload(vma, count, addrs, frame))
    };
    let run = |n: u64| page_run(0x70_0000, n);
    let a = 0x70_0000;
    let cases = [
        (
            Vec::from([zstd(1, 64, &run(64), ZSTD_FRAME_MAX as usize)]),
            Ok(()),
        ),
        (Vec::from([zstd(1, 0, &[], 10)]), size),
        (Vec::from([zstd(1, 65, &run(65), 10)]), size),
        (Vec::from([zstd(1, 2, &run(2), 0)]), size),
        (
            Vec::from([zstd(1, 1, &run(1), ZSTD_FRAME_MAX as usize + 1)]),
            size,
        ),
        (Vec::from([zstd(1, 1, &[0x78_0000], 10)]), outside),
        (Vec::from([zstd(1, 1, &[0x70_0008], 10)]), outside),
        (Vec::from([zstd(3, 1, &[a], 10)]), missing),
        (
            Vec::from([
                zstd(1, 2, &[a, a + 0x2000], 3),
                zstd(1, 1, &[a + 0x1000], 3),
            ]),
            unsorted,
        ),
        (
            Vec::from([zstd(1, 1, &[a + 0x1000], 3), zstd(1, 1, &[a + 0x1000], 3)]),
            unsorted,
        ),
        (
            Vec::from([
                (Pages, pages_payload(1, &[a + 0x1000])),
                zstd(1, 1, &[a], 3),
            ]),
            unsorted,
        ),
        (
            Vec::from([
                (Pages, pages_payload(1, &[a])),
                zstd(1, 1, &[a + 0x1000], 3),
            ]),
            Ok(()),
        ),
    ];
    for (i, (sections, expected)) in cases.iter().enumerate() {
        assert_eq!(elided_validate(sections), *expected, "case {i}");
    }
    // The sizes are refused by the walk of the file, before anything of
    // the section past its head is read.
    let bytes = super::tests::paged(&[zstd(1, 65, &run(65), 10)]);
    assert_eq!(
        image_of(&bytes, bytes.len() as u64, u64::MAX).map(|_| ()),
        size
    );
}
