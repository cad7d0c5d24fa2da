// SPDX-License-Identifier: GPL-2.0

//! The header at offset 0 of a dump, and the framing of each section
//! after it.

use super::super::checksum::Checksum;
use super::{
    DumpError, Reader, ARCH_X86_64, HEADER_SIZE, MAGIC, RELEASE_MAX, SECTION_HEAD, SECTION_TAIL,
    VERSION,
};

record! {
    /// The dump header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Header ["header", lens HeaderSeal] {
        /// `CHPOXDMP`.
        let magic: [u8; 8],
        /// The format version, [`VERSION`] (4).
        let version: u32,
        /// `AUDIT_ARCH_X86_64` (`0xc000003e`).
        arch: u32,
        /// Creation time, seconds since the epoch (CLOCK_REALTIME).
        created_sec: u64,
        /// Nanoseconds part of the creation time.
        created_nsec: u32,
        /// Number of processes.
        processes: u32,
        /// Number of sections after the header.
        sections: u32,
        /// `uname -r` of the kernel that wrote the dump, NUL-padded.
        release: [u8; 64],
        pad 4,
        /// Size of the whole file.
        file_size: u64,
        pad 12,
        /// [`Checksum`] of the bytes before it.
        let checksum: u32,
    }
}

const _: () = assert!(Header::SIZE == HEADER_SIZE && RELEASE_MAX == 64);

impl Header {
    /// The kernel release as bytes, without padding.
    pub fn release(&self) -> &[u8] {
        let n = self
            .release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(RELEASE_MAX);
        self.release.get(..n).unwrap_or(&self.release)
    }

    /// The encoded header.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let seal = HeaderSeal {
            magic: MAGIC,
            version: VERSION,
            checksum: 0,
        };
        let mut bytes = self.encode_with(&seal);
        seal_header(&mut bytes);
        bytes
    }

    /// Decodes and checks a header.
    pub fn decode(b: &[u8]) -> Result<Header, DumpError> {
        let b = b.get(..HEADER_SIZE).ok_or(DumpError::TooShort)?;
        let (header, seal) = Header::read_with(&mut Reader::new(b))?;
        if seal.magic != MAGIC {
            return Err(DumpError::BadMagic);
        }
        if seal.version != VERSION {
            return Err(DumpError::Version(seal.version));
        }
        if seal.checksum != Checksum::of(checked_part(b)) {
            return Err(DumpError::HeaderChecksum);
        }
        if header.arch != ARCH_X86_64 {
            return Err(DumpError::Arch(header.arch));
        }
        if header.created_nsec >= 1_000_000_000 {
            return Err(DumpError::Invalid("creation time nanoseconds out of range"));
        }
        if header.processes == 0 {
            return Err(DumpError::Invalid("no process in the dump"));
        }
        Ok(header)
    }
}

/// The bytes the header's checksum covers: all but the checksum.
fn checked_part(b: &[u8]) -> &[u8] {
    b.get(..HEADER_SIZE - 4).unwrap_or(b)
}

/// Sets the checksum of the header at the start of `bytes` (if they hold
/// one) to that of its other bytes: how [`Header::encode`] seals it, and
/// what tools that change a header field on purpose (the fuzzer, the
/// tests) call so that the field, not the checksum, is what gets checked.
pub fn seal_header(bytes: &mut [u8]) {
    if let Some(header) = bytes.get_mut(..HEADER_SIZE) {
        let (fields, checksum) = header.split_at_mut(HEADER_SIZE - 4);
        checksum.copy_from_slice(&Checksum::of(fields).to_le_bytes());
    }
}

record! {
    /// The framing in front of a section's payload, as read from a file:
    /// every reader of sections (the whole-file
    /// [`Dump::parse`](super::Dump::parse), ld-chpox's
    /// [`elide`](super::elide) and the kernel's streaming reader) decodes
    /// it here, so the arithmetic on its length is checked
    /// in one place. The payload follows it, then the [`Checksum`] of the
    /// frame and the payload (`u32`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SectionFrame ["section"] {
        /// The raw kind number (`SectionKind::from_u32` names it).
        kind: u32,
        /// Which process it belongs to.
        process: u32,
        /// Payload length.
        len: u64,
    }
}

const _: () = assert!(SectionFrame::SIZE == SECTION_HEAD);

impl SectionFrame {
    /// Decodes the [`SECTION_HEAD`] bytes in front of a payload.
    pub fn decode(head: &[u8; SECTION_HEAD]) -> SectionFrame {
        // SECTION_HEAD bytes always hold a frame; were they short, a frame
        // that fits nowhere would stand for them.
        let none = SectionFrame {
            kind: 0,
            process: 0,
            len: u64::MAX,
        };
        SectionFrame::read(&mut Reader::new(head)).unwrap_or(none)
    }

    /// Bytes the whole section takes (framing, payload, checksum), if that
    /// fits in `available` bytes; `None` when it runs past them.
    pub fn size_within(&self, available: u64) -> Option<u64> {
        let size = self.len.checked_add((SECTION_HEAD + SECTION_TAIL) as u64)?;
        (size <= available).then_some(size)
    }
}
