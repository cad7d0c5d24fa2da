// SPDX-License-Identifier: GPL-2.0

//! Reading a dump in the kernel. `ld-chpox` has checked it already, but the
//! kernel trusts nothing it is handed: every section is read with its
//! checksum verified and decoded with the same validating code.

use crate::abi::crc32c::Crc32c;
use crate::abi::dump::{
    decode_vmas, Header, MmLayout, ProcessInfo, Registers, RseqArea, SectionKind, SignalState,
    SleepRestart, Vma, HEADER_SIZE, SECTION_HEAD, SECTION_TAIL,
};
use crate::bindings;
use core::ptr::NonNull;
use kernel::prelude::*;

/// Largest non-page section read into memory.
const SECTION_MAX: u64 = 16 << 20;

/// The dump file, by its descriptor in the restoring process.
pub(super) struct DumpSource(NonNull<bindings::file>);

impl Drop for DumpSource {
    fn drop(&mut self) {
        // SAFETY: we own the reference fget() returned.
        unsafe { bindings::fput(self.0.as_ptr()) }
    }
}

/// Where a pages section is in the file.
pub(super) struct PagesAt {
    /// Offset of its framing.
    pub(super) frame: i64,
    /// Its payload length.
    pub(super) len: u64,
}

/// The parts of a dump the module restores, checked.
pub(super) struct Image {
    pub(super) mm: MmLayout,
    pub(super) registers: Registers,
    pub(super) blocked: u64,
    /// A sleep to continue.
    pub(super) sleep: Option<SleepRestart>,
    /// The rseq area to register again.
    pub(super) rseq: Option<RseqArea>,
    /// The executable's path (empty if it had none).
    pub(super) exe: KVec<u8>,
    vmas: KVec<u8>,
    pub(super) pages: KVec<PagesAt>,
}

impl Image {
    /// The memory areas (validated when the image was loaded).
    pub(super) fn vmas(&self) -> impl Iterator<Item = Vma<'_>> + Clone + '_ {
        decode_vmas(&self.vmas).into_iter().flatten()
    }
}

fn invalid() -> Error {
    EINVAL
}

impl DumpSource {
    pub(super) fn open(fd: u32) -> Result<Self> {
        // SAFETY: looks `fd` up in the current task's table.
        NonNull::new(unsafe { bindings::fget(fd) })
            .map(DumpSource)
            .ok_or(EBADF)
    }

    /// Reads exactly `buf.len()` bytes at `pos`, advancing it.
    pub(super) fn read(&self, pos: &mut i64, buf: &mut [u8]) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a writable kernel buffer; the file is held.
            let n = unsafe {
                bindings::kernel_read(self.0.as_ptr(), rest.as_mut_ptr().cast(), rest.len(), pos)
            };
            match n {
                n if n < 0 => return Err(Error::from_errno(n as i32)),
                0 => return Err(invalid()), // shorter than it says
                n => done += n as usize,
            }
        }
        Ok(())
    }

    fn read_vec(&self, pos: &mut i64, len: usize) -> Result<KVec<u8>> {
        let mut v = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        self.read(pos, &mut v)?;
        Ok(v)
    }

    /// Reads the header and every section of process `index` but the
    /// pages, verifying all checksums, and checks what the module will use.
    pub(super) fn load(&self, index: u32) -> Result<Image> {
        let mut pos = 0i64;
        let mut head = [0u8; HEADER_SIZE];
        self.read(&mut pos, &mut head)?;
        let header = Header::decode(&head).map_err(|_| invalid())?;
        if index >= header.processes {
            return Err(invalid());
        }
        // SAFETY: the kernel release is a static NUL-terminated string.
        let release = unsafe { kernel::str::CStr::from_char_ptr(bindings::chpox_kernel_release()) };
        if header.release() != release.as_bytes() {
            return Err(invalid());
        }
        let (mut process, mut mm, mut regs, mut signals, mut vmas) = (None, None, None, None, None);
        let mut sleep = None;
        let mut rseq = None;
        let mut pages = KVec::new();
        for _ in 0..header.sections {
            let frame_at = pos;
            let mut frame = [0u8; SECTION_HEAD];
            self.read(&mut pos, &mut frame)?;
            let kind = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let owner = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
            let len = u64::from_le_bytes([
                frame[8], frame[9], frame[10], frame[11], frame[12], frame[13], frame[14],
                frame[15],
            ]);
            if len > header.file_size {
                return Err(invalid());
            }
            if owner != index {
                // Another process's: skipped unread (ld-chpox has checked
                // every checksum of the file).
                pos += (len + SECTION_TAIL as u64) as i64;
                continue;
            }
            if kind == SectionKind::Pages as u32 {
                pages.push(
                    PagesAt {
                        frame: frame_at,
                        len,
                    },
                    GFP_KERNEL,
                )?;
                pos += (len + SECTION_TAIL as u64) as i64;
                continue;
            }
            if len > SECTION_MAX {
                return Err(invalid());
            }
            let payload = self.read_vec(&mut pos, len as usize)?;
            let mut tail = [0u8; SECTION_TAIL];
            self.read(&mut pos, &mut tail)?;
            let mut crc = Crc32c::new();
            crc.update(&frame);
            crc.update(&payload);
            if crc.finish() != u32::from_le_bytes(tail) {
                return Err(invalid());
            }
            let slot = match SectionKind::from_u32(kind) {
                Some(SectionKind::Process) => &mut process,
                Some(SectionKind::Mm) => &mut mm,
                Some(SectionKind::Registers) => &mut regs,
                Some(SectionKind::Signals) => &mut signals,
                Some(SectionKind::Vmas) => &mut vmas,
                Some(SectionKind::Restart) => &mut sleep,
                Some(SectionKind::Rseq) => &mut rseq,
                // ld-chpox's part of the restore.
                Some(
                    SectionKind::Fpu
                    | SectionKind::Files
                    | SectionKind::Pipe
                    | SectionKind::Socket
                    | SectionKind::Clocks
                    | SectionKind::Zombies,
                ) => continue,
                _ => return Err(invalid()),
            };
            if slot.replace(payload).is_some() {
                return Err(invalid());
            }
        }
        if pos as u64 != header.file_size {
            return Err(invalid());
        }
        let process = process.ok_or(EINVAL)?;
        let (info, _, exe_path) = ProcessInfo::decode(&process).map_err(|_| invalid())?;
        let mut exe = KVec::new();
        exe.extend_from_slice(exe_path, GFP_KERNEL)?;
        if info.threads != 1 {
            return Err(super::super::dump::EOPNOTSUPP());
        }
        let registers = Registers::decode(&regs.ok_or(EINVAL)?).map_err(|_| invalid())?;
        let r = &registers.0;
        // Only the fs base is restored; programs leave gs and the data
        // segment selectors alone in 64-bit mode.
        if r[Registers::GS_BASE] != 0 || r[23..27].iter().any(|&s| s != 0) {
            return Err(super::super::dump::EOPNOTSUPP());
        }
        let signals = signals.ok_or(EINVAL)?;
        let blocked = SignalState::decode(&signals)
            .map_err(|_| invalid())?
            .0
            .blocked;
        let vmas = vmas.ok_or(EINVAL)?;
        if decode_vmas(&vmas).is_err() {
            return Err(invalid());
        }
        Ok(Image {
            mm: MmLayout::decode(&mm.ok_or(EINVAL)?).map_err(|_| invalid())?,
            registers,
            blocked,
            sleep: match sleep {
                Some(s) => Some(SleepRestart::decode(&s).map_err(|_| invalid())?),
                None => None,
            },
            rseq: match rseq {
                Some(a) => Some(RseqArea::decode(&a).map_err(|_| invalid())?),
                None => None,
            },
            exe,
            vmas,
            pages,
        })
    }
}
