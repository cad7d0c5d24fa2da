// SPDX-License-Identifier: GPL-2.0

//! Reading a dump without its page contents: what ld-chpox keeps of a dump
//! in memory, whatever the size of the memory it restores.
//!
//! The module reads the pages from the dump file itself, and verifies
//! their checksums as it does; ld-chpox needs of them only the addresses,
//! to check them against their memory areas. [`elide`] reads a file
//! section by section, skipping the pages and checksum of every
//! [`SectionKind::Pages`] section, into an image that
//! [`Dump::parse_elided`](super::Dump::parse_elided) checks. Nothing is
//! verified here: the walk of `parse_elided` does, on the image, against
//! the real file length. What is checked here bounds the memory: every
//! length read is checked before anything is read with it.

use super::super::sink::Sink;
use super::{DumpError, Header, PagesHead, SectionFrame, SectionKind, HEADER_SIZE, SECTION_HEAD};

/// Longest section but a pages section that [`elide`] reads, as the
/// module reads no longer one (its `rust/restore/source.rs`): the memory
/// map of a process with the most areas Linux allows is well below.
pub const SECTION_MAX: u64 = 32 << 20;

/// Bytes [`elide`] copies at a time.
const CHUNK: usize = 4096;

/// Where [`elide`] reads a dump from: its file, by offset, as `pread()`
/// does (the file's own offset is not used, nor changed).
pub trait ReadAt {
    /// What a read returns on failure; a dump that cannot be used is one.
    type Error: From<DumpError>;
    /// Fills `buf` with the file's bytes at `offset`; an error if the file
    /// ends before.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
}

/// Appends to `out` the image of the dump `src` of `file_len` bytes that
/// [`Dump::parse_elided`](super::Dump::parse_elided) takes: the header,
/// then every section as it is but the pages sections, of which the frame,
/// head and addresses only. The image is at most `limit` bytes, or the
/// dump is refused: about 1/512 of the pages plus the other sections,
/// none of which is longer than [`SECTION_MAX`].
pub fn elide<S: ReadAt>(
    src: &mut S,
    file_len: u64,
    out: &mut dyn Sink,
    limit: u64,
) -> Result<(), S::Error> {
    if file_len < HEADER_SIZE as u64 {
        return Err(DumpError::TooShort.into());
    }
    let mut head = [0u8; HEADER_SIZE];
    src.read_at(0, &mut head)?;
    let header = Header::decode(&head)?;
    if header.file_size != file_len {
        return Err(DumpError::Length {
            expected: header.file_size,
            actual: file_len,
        }
        .into());
    }
    out.put(&head);
    let mut image = HEADER_SIZE as u64;
    let mut at = HEADER_SIZE as u64;
    let mut index = 0u32;
    while at < file_len {
        let (total, kept) = section_extent(src, at, file_len - at, index)?;
        image = image
            .checked_add(kept)
            .filter(|&n| n <= limit)
            .ok_or(DumpError::Invalid(
                "the dump is too large to read (other than its pages)",
            ))?;
        copy(src, at, kept, out)?;
        at += total; // within the file (size_within)
        index = index.wrapping_add(1);
    }
    Ok(())
}

/// Of the section `index` at offset `at`, with `left` bytes of the file
/// from there: its size in the file and the bytes of it the image keeps.
fn section_extent<S: ReadAt>(
    src: &mut S,
    at: u64,
    left: u64,
    index: u32,
) -> Result<(u64, u64), S::Error> {
    let bounds = DumpError::SectionBounds(index);
    let mut frame = [0u8; SECTION_HEAD];
    if left < frame.len() as u64 {
        return Err(bounds.into());
    }
    src.read_at(at, &mut frame)?;
    let frame = SectionFrame::decode(&frame);
    let total = frame.size_within(left).ok_or(bounds)?;
    let Some(kind) = SectionKind::from_u32(frame.kind).filter(|k| k.has_pages()) else {
        if frame.len > SECTION_MAX {
            return Err(DumpError::Invalid("a section longer than any dump has").into());
        }
        return Ok((total, total));
    };
    let mut head = [0u8; PagesHead::SIZE];
    if frame.len < head.len() as u64 {
        return Err(DumpError::Invalid("pages section of the wrong size").into());
    }
    src.read_at(at + SECTION_HEAD as u64, &mut head)?;
    let head = PagesHead::decode_head_of(kind, &head, frame.len)?;
    // Less than `total`: the pages (or their frame) follow the addresses.
    Ok((total, SECTION_HEAD as u64 + PagesHead::kept_len(head.count)))
}

/// Appends the `len` bytes of `src` at `at` to `out`.
fn copy<S: ReadAt>(src: &mut S, at: u64, len: u64, out: &mut dyn Sink) -> Result<(), S::Error> {
    let mut buf = [0u8; CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(CHUNK as u64) as usize;
        let piece = &mut buf[..n];
        src.read_at(at + done, piece)?;
        out.put(piece);
        done += n as u64;
    }
    Ok(())
}
