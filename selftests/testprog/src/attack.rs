// SPDX-License-Identifier: GPL-2.0

//! What the security selftests need to act as an attacker or to build a
//! large but legitimate process:
//!
//! - `patch-dump FILE KIND OFFSET HEX`: overwrites bytes at OFFSET of the
//!   payload of the first section of KIND of process 0 with HEX (bytes in
//!   file order), then fixes that section's checksum, as someone who edits
//!   a dump by hand would; the parser then gets past the checksum.
//! - `sparse-huge GIB`: maps GIB GiB without reserving memory for it
//!   (`MAP_NORESERVE`, as runtimes reserve address space), writes one page
//!   of each GiB, says "ready" and sleeps.
//! - `vmas N`: maps N separate one-page areas (alternating protections, so
//!   that none merge), writes each, says "ready" and sleeps, checking now
//!   and then that every area still holds its value ("vmas ok").

use chpox_abi::checksum::Checksum;
use chpox_abi::dump::{
    seal_header, PagesHead, SectionFrame, SectionKind, HEADER_SIZE, SECTION_HEAD, SECTION_TAIL,
};
use std::process::ExitCode;

fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where the first section of `kind` of process 0 is: its framing offset
/// and payload length.
fn find_section(bytes: &[u8], kind: u32) -> Option<(usize, usize)> {
    let mut at = HEADER_SIZE;
    while at + SECTION_HEAD <= bytes.len() {
        let head: [u8; SECTION_HEAD] = bytes[at..at + SECTION_HEAD].try_into().ok()?;
        let frame = SectionFrame::decode(&head);
        let size = frame.size_within((bytes.len() - at) as u64)? as usize;
        if frame.kind == kind && frame.process == 0 {
            return Some((at, frame.len as usize));
        }
        at += size;
    }
    None
}

/// The bytes of the dump `file`, or the error said.
fn read_dump(file: &str) -> Result<Vec<u8>, ()> {
    std::fs::read(file).map_err(|e| eprintln!("testprog: {file}: {e}"))
}

/// Writes `bytes` back to the dump `file`, saying the error if any.
fn write_dump(file: &str, bytes: &[u8]) -> ExitCode {
    match std::fs::write(file, bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testprog: {file}: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn patch_dump(file: &str, kind: &str, offset: &str, hex: &str) -> ExitCode {
    let kind = match kind.parse::<u32>().ok().and_then(SectionKind::from_u32) {
        Some(k) => k as u32,
        None => {
            eprintln!("testprog: patch-dump: {kind} is not a section kind number");
            return ExitCode::from(2);
        }
    };
    let (Ok(offset), Some(patch)) = (offset.parse::<usize>(), parse_hex(hex)) else {
        eprintln!("testprog: patch-dump needs a byte offset and hex bytes");
        return ExitCode::from(2);
    };
    let Ok(mut bytes) = read_dump(file) else {
        return ExitCode::FAILURE;
    };
    let Some((at, len)) = find_section(&bytes, kind) else {
        eprintln!("testprog: {file}: no section of kind {kind} for process 0");
        return ExitCode::FAILURE;
    };
    if offset + patch.len() > len {
        eprintln!("testprog: the patch runs past the {len}-byte payload");
        return ExitCode::FAILURE;
    }
    let payload = at + SECTION_HEAD;
    bytes[payload + offset..payload + offset + patch.len()].copy_from_slice(&patch);
    let checksum = Checksum::of(&bytes[at..payload + len]);
    bytes[payload + len..payload + len + SECTION_TAIL].copy_from_slice(&checksum.to_le_bytes());
    write_dump(file, &bytes)
}

/// `patch-header FILE OFFSET HEX`: writes HEX at OFFSET of the header
/// (nothing if HEX is empty) and seals the header again with its checksum,
/// so that what is checked next is the field changed.
pub fn patch_header(file: &str, offset: &str, hex: &str) -> ExitCode {
    let (Ok(offset), Some(patch)) = (offset.parse::<usize>(), parse_hex(hex)) else {
        eprintln!("testprog: patch-header needs a byte offset and hex bytes");
        return ExitCode::from(2);
    };
    let Ok(mut bytes) = read_dump(file) else {
        return ExitCode::FAILURE;
    };
    // The header's last 4 bytes are its checksum, set by seal_header.
    let fields = HEADER_SIZE - 4;
    if bytes.len() < HEADER_SIZE {
        eprintln!("testprog: {file}: shorter than a header");
        return ExitCode::FAILURE;
    }
    if offset.saturating_add(patch.len()) > fields {
        eprintln!("testprog: the patch runs past the header's first {fields} bytes");
        return ExitCode::FAILURE;
    }
    bytes[offset..offset + patch.len()].copy_from_slice(&patch);
    seal_header(&mut bytes);
    write_dump(file, &bytes)
}

/// Prints where, in the payload of the first compressed pages section of
/// process 0 of a dump, its zstd frame starts (after the head and the
/// addresses), for `patch-dump` to aim at it.
pub fn zstd_frame_at(file: &str) -> ExitCode {
    let Ok(bytes) = read_dump(file) else {
        return ExitCode::FAILURE;
    };
    let count = find_section(&bytes, SectionKind::ZstdPages as u32)
        .and_then(|(at, _)| bytes.get(at + SECTION_HEAD + 4..at + SECTION_HEAD + 8))
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes);
    match count {
        Some(count) => {
            println!("{}", PagesHead::kept_len(count));
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("testprog: {file}: no compressed pages section of process 0");
            ExitCode::FAILURE
        }
    }
}

pub fn vmas(n: &str) -> ExitCode {
    use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
    use std::num::NonZeroUsize;
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("testprog: vmas needs a number");
        return ExitCode::from(2);
    };
    let page = NonZeroUsize::new(4096).expect("page size");
    let mut areas = Vec::with_capacity(n);
    for i in 0..n {
        let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a new private anonymous mapping, nothing else refers to it.
        let area = match unsafe { mmap_anonymous(None, page, rw, MapFlags::MAP_PRIVATE) } {
            Ok(a) => a.cast::<u32>(),
            Err(e) => {
                eprintln!("testprog: mmap of area {i}: {e}");
                return ExitCode::FAILURE;
            }
        };
        // SAFETY: the area is one writable page.
        unsafe { area.as_ptr().write(i as u32) };
        if i % 2 == 1 {
            // Read-only every other area: neighbours cannot merge.
            // SAFETY: changes the protection of our own mapping.
            if let Err(e) =
                unsafe { nix::sys::mman::mprotect(area.cast(), 4096, ProtFlags::PROT_READ) }
            {
                eprintln!("testprog: mprotect: {e}");
                return ExitCode::FAILURE;
            }
        }
        areas.push(area);
    }
    crate::ready();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: every area is a readable page we mapped.
        let ok = areas
            .iter()
            .enumerate()
            .all(|(i, a)| unsafe { a.as_ptr().read() } == i as u32);
        println!("{}", if ok { "vmas ok" } else { "VMAS LOST" });
    }
}

pub fn sparse_huge(gib: &str) -> ExitCode {
    use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
    use std::num::NonZeroUsize;
    let Some(len) = gib
        .parse::<usize>()
        .ok()
        .and_then(|g| NonZeroUsize::new(g << 30))
    else {
        eprintln!("testprog: sparse-huge needs a number of GiB");
        return ExitCode::from(2);
    };
    let rw = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    let flags = MapFlags::MAP_PRIVATE | MapFlags::MAP_NORESERVE;
    // SAFETY: a new private anonymous mapping, nothing else refers to it.
    let area = match unsafe { mmap_anonymous(None, len, rw, flags) } {
        Ok(a) => a.cast::<u8>(),
        Err(e) => {
            eprintln!("testprog: mmap of {gib} GiB: {e}");
            return ExitCode::FAILURE;
        }
    };
    for g in 0..len.get() >> 30 {
        // SAFETY: inside the writable mapping.
        unsafe { area.as_ptr().add(g << 30).write(1) };
    }
    crate::ready();
    crate::sleep_forever()
}
