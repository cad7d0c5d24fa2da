// SPDX-License-Identifier: GPL-2.0

//! Reading a dump in the kernel. `ld-chpox` has checked it already, but the
//! kernel trusts nothing it is handed: it may be any file, written by
//! anyone who can write `restore` to /proc/chpox. The framing is decoded by
//! [`SectionFrame`] and every payload the module uses by the decoders of
//! `rust/abi` (the code ld-chpox and the fuzzers run), each with its
//! checksum verified; every offset is computed with checked arithmetic.

use crate::abi::checksum::Checksum;
use crate::abi::dump::{
    decode_vmas, Header, MmLayout, ProcessInfo, Registers, RseqArea, SectionFrame, SectionKind,
    SleepRestart, ThreadInfo, Vma, HEADER_SIZE, SECTION_HEAD, SECTION_TAIL,
};
use crate::kernel_ext::file::{mode, File};
use crate::kernel_ext::mm::PagesForWrite;
use crate::kernel_ext::system;
use crate::kernel_ext::task::yield_unless_killed;
use kernel::prelude::*;
use kernel::types::ARef;

/// Largest section the module reads into memory (the memory map of a
/// process with the most areas Linux allows is well below).
const SECTION_MAX: u64 = 32 << 20;
/// Most pages sections of one process: one per memory area, and no process
/// has more areas than this (`vm.max_map_count` is 65530 by default); or
/// one per 64 compressed pages, 256 GiB of them.
const PAGES_SECTIONS_MAX: usize = 1 << 20;

/// The dump file, by its descriptor in the restoring process.
pub(super) struct DumpSource(ARef<File>);

/// Where a pages section is in the file.
pub(super) struct PagesAt {
    /// Offset of its framing.
    pub(super) frame: i64,
    /// Its payload length.
    pub(super) len: u64,
    /// A [`SectionKind::ZstdPages`] section (else [`SectionKind::Pages`]).
    pub(super) compressed: bool,
}

/// What the module restores of one thread, checked.
pub(super) struct ThreadImage {
    pub(super) registers: Registers,
    pub(super) blocked: u64,
    /// A sleep to continue.
    pub(super) sleep: Option<SleepRestart>,
    /// The rseq area to register again.
    pub(super) rseq: Option<RseqArea>,
}

/// What the module restores of a process (thread 0 does it), checked.
pub(super) struct Image {
    pub(super) mm: MmLayout,
    /// Number of threads.
    pub(super) threads: u32,
    /// The executable's path (empty if it had none).
    pub(super) exe: KVec<u8>,
    vmas: KVVec<u8>,
    pub(super) pages: KVVec<PagesAt>,
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

/// `pos + n`, or EINVAL when a crafted length would overflow it.
fn advance(pos: i64, n: u64) -> Result<i64> {
    i64::try_from(n)
        .ok()
        .and_then(|n| pos.checked_add(n))
        .ok_or(EINVAL)
}

impl DumpSource {
    /// The regular file open at `fd`. Anything else (a FIFO, a socket, a
    /// device) could block the read forever, and `rmmod` with it.
    pub(super) fn open(fd: u32) -> Result<Self> {
        File::fget_of_type(fd, mode::S_IFREG).map(DumpSource)
    }

    /// Whether only root can have chosen the file's contents: owned by root
    /// (as the initial user namespace numbers it) and writable by no group
    /// or other user.
    pub(super) fn written_by_root_only(&self) -> bool {
        let inode = self.0.inode();
        inode.uid() == 0 && inode.mode() & 0o022 == 0
    }

    /// Reads exactly `buf.len()` bytes at `pos`, advancing it.
    pub(super) fn read(&self, pos: &mut i64, buf: &mut [u8]) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            match self.0.read_at(rest, pos)? {
                0 => return Err(invalid()), // shorter than it says
                n => done += n,
            }
        }
        Ok(())
    }

    /// Reads whole pages at `pos` straight into `pages`, advancing `pos`.
    pub(super) fn read_into(&self, pos: &mut i64, pages: &PagesForWrite) -> Result {
        self.0.read_into_pages_at(pages, pos)
    }

    /// Reads `len` bytes (at most [`SECTION_MAX`]) into memory charged to
    /// the restoring process.
    fn read_vec(&self, pos: &mut i64, len: u64) -> Result<KVVec<u8>> {
        if len > SECTION_MAX {
            return Err(invalid());
        }
        let mut v = KVVec::from_elem(0u8, len as usize, GFP_KERNEL_ACCOUNT)?;
        self.read(pos, &mut v)?;
        Ok(v)
    }

    /// Reads the header and, of process `index`, the section of thread
    /// `thread` and, for thread 0, the process's sections the module uses
    /// but the pages (whose places are noted), verifying their checksums,
    /// and checks what the module will install.
    pub(super) fn load(&self, index: u32, thread: u32) -> Result<(Option<Image>, ThreadImage)> {
        let mut pos = 0i64;
        let mut head = [0u8; HEADER_SIZE];
        self.read(&mut pos, &mut head)?;
        let header = Header::decode(&head).map_err(|_| invalid())?;
        if index >= header.processes {
            return Err(invalid());
        }
        if header.release() != system::kernel_release() {
            return Err(invalid());
        }
        let whole = thread == 0;
        let end = i64::try_from(header.file_size).map_err(|_| invalid())?;
        let (mut process, mut mm, mut vmas, mut own) = (None, None, None, None);
        let mut threads = 0u32;
        let mut pages = KVVec::new();
        for _ in 0..header.sections {
            yield_unless_killed()?;
            let frame_at = pos;
            let mut frame_bytes = [0u8; SECTION_HEAD];
            self.read(&mut pos, &mut frame_bytes)?;
            let frame = SectionFrame::decode(&frame_bytes);
            let available = (end - frame_at).max(0) as u64;
            let size = frame.size_within(available).ok_or(EINVAL)?;
            let next = advance(frame_at, size)?;
            let slot = match SectionKind::from_u32(frame.kind) {
                _ if frame.process != index => None, // another process's
                Some(SectionKind::Thread) => {
                    threads = threads.checked_add(1).ok_or(EINVAL)?;
                    (threads - 1 == thread).then_some(&mut own)
                }
                _ if !whole => None,
                Some(kind @ (SectionKind::Pages | SectionKind::ZstdPages)) => {
                    if pages.len() >= PAGES_SECTIONS_MAX {
                        return Err(invalid());
                    }
                    pages.push(
                        PagesAt {
                            frame: frame_at,
                            len: frame.len,
                            compressed: kind == SectionKind::ZstdPages,
                        },
                        GFP_KERNEL_ACCOUNT,
                    )?;
                    None
                }
                Some(SectionKind::Process) => Some(&mut process),
                Some(SectionKind::Mm) => Some(&mut mm),
                Some(SectionKind::Vmas) => Some(&mut vmas),
                // ld-chpox's part of the restore: not read here.
                Some(_) => None,
                None => return Err(invalid()),
            };
            let Some(slot) = slot else {
                pos = next;
                continue;
            };
            let payload = self.read_vec(&mut pos, frame.len)?;
            let mut tail = [0u8; SECTION_TAIL];
            self.read(&mut pos, &mut tail)?;
            let mut checksum = Checksum::new();
            checksum.update(&frame_bytes);
            checksum.update(&payload);
            if checksum.finish() != u32::from_le_bytes(tail) || slot.replace(payload).is_some() {
                return Err(invalid());
            }
        }
        if pos != end {
            return Err(invalid());
        }
        let own = thread_image(&own.ok_or(EINVAL)?)?;
        if !whole {
            return Ok((None, own));
        }
        let process = process.ok_or(EINVAL)?;
        let (info, _, exe_path) = ProcessInfo::decode(&process).map_err(|_| invalid())?;
        if info.threads != threads {
            return Err(invalid());
        }
        let mut exe = KVec::new();
        exe.extend_from_slice(exe_path, GFP_KERNEL_ACCOUNT)?;
        let vmas = vmas.ok_or(EINVAL)?;
        if decode_vmas(&vmas).is_err() {
            return Err(invalid());
        }
        let image = Image {
            mm: MmLayout::decode(&mm.ok_or(EINVAL)?).map_err(|_| invalid())?,
            threads,
            exe,
            vmas,
            pages,
        };
        Ok((Some(image), own))
    }
}

/// Decodes and checks a thread section.
fn thread_image(payload: &[u8]) -> Result<ThreadImage> {
    let thread = ThreadInfo::decode(payload).map_err(|_| invalid())?;
    let registers = thread.registers();
    let r = &registers.0;
    // Only the fs base is restored; programs leave gs and the data segment
    // selectors alone in 64-bit mode.
    if r[Registers::GS_BASE] != 0 || r[23..27].iter().any(|&s| s != 0) {
        return Err(crate::kernel_ext::errno::EOPNOTSUPP());
    }
    Ok(ThreadImage {
        registers,
        blocked: thread.info.blocked,
        sleep: thread.sleep(),
        rseq: thread.rseq(),
    })
}
