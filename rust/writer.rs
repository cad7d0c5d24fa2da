// SPDX-License-Identifier: GPL-2.0

//! The dump file. It is written beside its final name, under a temporary
//! name (`.NAME.chpox-XXXXXXXX`, random, created exclusively: nobody can
//! prepare it, and two checkpoints to one path never share it), synced, and
//! renamed over the final name only once complete, so the final path always
//! holds the latest successful checkpoint. The directory is the one the
//! registrant named, resolved once at registration ([`DumpDir`]). The
//! caller runs all of this with the registrant's credentials.

use crate::abi::dump::{Header, SectionKind, SectionWriter, HEADER_SIZE};
use crate::abi::sink::Sink;
use crate::dump::PageCompressor;
use crate::kernel_ext::dir::DirLock;
use crate::kernel_ext::errno::ENAMETOOLONG;
use crate::kernel_ext::file::{flags::*, File, PAGES_PER_IO};
use crate::kernel_ext::mm::PinnedPage;
use crate::kernel_ext::random;
use crate::kernel_ext::task::with_pending_signals_hidden;
use kernel::prelude::*;
use kernel::types::ARef;

/// Bytes gathered before each `kernel_write()`.
const BUFFER: usize = 256 * 1024;
/// Attempts at a free temporary name: a clash is either chance (2^-32) or
/// someone creating names there on purpose.
const TEMP_NAME_TRIES: usize = 8;
/// Longest name of a directory entry (`NAME_MAX`).
const NAME_MAX: usize = 255;
/// What the temporary name adds to the final one: `.`, `.chpox-`, 8 digits.
const TEMP_NAME_EXTRA: usize = 16;
/// The directory a registration writes its dumps into, resolved at
/// registration with the registrant's credentials in the registrant's
/// view of the file system (mount namespace, root), and held as an
/// `O_PATH` file: the target cannot redirect it by changing its own view,
/// and dropping it never sleeps (`fput()` defers), so registrations can go
/// away in atomic context.
#[derive(Clone)]
pub(crate) struct DumpDir(ARef<File>);

impl DumpDir {
    /// Resolves the directory of the absolute dump path `path` as the
    /// current task (with the current credentials) sees it; returns it and
    /// the file name.
    pub(crate) fn resolve(path: &[u8]) -> Result<(Self, &[u8])> {
        let (dir, name) = split_path(path)?;
        Ok((DumpDir(File::open(dir, O_PATH | O_DIRECTORY)?), name))
    }

    /// Creates `name` in the directory, exclusively (never an existing
    /// entry, never through a link), for writing.
    fn create_exclusive(&self, name: &[u8]) -> Result<ARef<File>> {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_LARGEFILE;
        with_pending_signals_hidden(|| self.0.open_below(name, flags, 0o600))
    }

    /// The directory, writable and locked for changing its entries.
    fn lock(&self) -> Result<DirLock<'_>> {
        DirLock::new(&self.0)
    }
}

/// Splits an absolute dump path into its directory and file name; the
/// name must leave room for the temporary name made from it.
pub(crate) fn split_path(path: &[u8]) -> Result<(&[u8], &[u8])> {
    let slash = path.iter().rposition(|&b| b == b'/').ok_or(EINVAL)?;
    let (dir, name) = (&path[..slash.max(1)], &path[slash + 1..]);
    if name.is_empty() || name == b"." || name == b".." {
        return Err(EISDIR);
    }
    if name.len() + TEMP_NAME_EXTRA > NAME_MAX {
        return Err(ENAMETOOLONG());
    }
    Ok((dir, name))
}

/// `.NAME.chpox-XXXXXXXX` with eight random hex digits.
fn temp_name(name: &[u8]) -> Result<KVec<u8>> {
    let random = random::u32();
    let mut digits = [0u8; 8];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = b"0123456789abcdef"[(random >> (28 - 4 * i) & 0xf) as usize];
    }
    let mut temp = KVec::new();
    for part in [&b"."[..], name, b".chpox-", &digits] {
        temp.extend_from_slice(part, GFP_KERNEL)?;
    }
    Ok(temp)
}

/// A dump being written.
pub(crate) struct DumpFile {
    file: Option<ARef<File>>,
    /// Where the next buffered bytes go.
    pos: i64,
    /// [`BUFFER`] bytes, the first `buffered` of them to be written at
    /// `pos`.
    buffer: KVec<u8>,
    buffered: usize,
    error: Option<Error>,
    dir: DumpDir,
    temp_name: KVec<u8>,
    final_name: KVec<u8>,
    sections: u32,
    /// The process the next sections belong to.
    process: u32,
    committed: bool,
    /// Set when the pages are to be compressed.
    compressor: Option<KBox<PageCompressor>>,
}

impl DumpFile {
    /// Creates a new temporary file for the dump `name` in `dir`.
    pub(crate) fn create(dir: &DumpDir, name: &[u8]) -> Result<Self> {
        let mut tries = 0;
        let (file, temp_name) = loop {
            let temp_name = temp_name(name)?;
            match dir.create_exclusive(&temp_name) {
                Ok(file) => break (file, temp_name),
                Err(e) if e == EEXIST && tries < TEMP_NAME_TRIES => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let mut final_name = KVec::new();
        final_name.extend_from_slice(name, GFP_KERNEL)?;
        let mut dump = DumpFile {
            file: Some(file),
            pos: HEADER_SIZE as i64,
            buffer: KVec::new(),
            buffered: 0,
            error: None,
            dir: dir.clone(),
            temp_name,
            final_name,
            sections: 0,
            process: 0,
            committed: false,
            compressor: None,
        };
        // Allocated after `dump` exists, so that a failure removes the file.
        dump.buffer = KVec::from_elem(0u8, BUFFER, GFP_KERNEL)?;
        Ok(dump)
    }

    fn write_at(&mut self, bytes: &[u8], pos: &mut i64) -> Result {
        let file = self.file.as_ref().ok_or(EBADF)?;
        with_pending_signals_hidden(|| write_all(file, bytes, pos))
    }

    fn flush(&mut self) {
        if self.error.is_some() || self.buffered == 0 {
            return;
        }
        let bytes = self.buffer.get(..self.buffered).unwrap_or(&[]);
        let result = match self.file.as_ref() {
            Some(file) => with_pending_signals_hidden(|| write_all(file, bytes, &mut self.pos)),
            None => Err(EBADF),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
        self.buffered = 0;
    }

    /// Writes whole pages after what was put so far, straight from the
    /// pages rather than through the buffer, [`PAGES_PER_IO`] a call.
    /// The section writer must have [`accounted`](SectionWriter::account)
    /// them.
    pub(crate) fn put_pages<'a>(&mut self, pages: impl IntoIterator<Item = &'a PinnedPage>) {
        self.flush();
        let mut pages = pages.into_iter().peekable();
        while self.error.is_none() && pages.peek().is_some() {
            let batch = pages.by_ref().take(PAGES_PER_IO);
            let result = match self.file.as_ref() {
                Some(file) => {
                    with_pending_signals_hidden(|| file.write_pages_at(batch, &mut self.pos))
                }
                None => Err(EBADF),
            };
            if let Err(e) = result {
                self.error = Some(e);
            }
        }
    }

    /// Writes one section whose payload `fill` produces, `len` bytes long.
    pub(crate) fn section(
        &mut self,
        kind: SectionKind,
        len: u64,
        fill: impl FnOnce(&mut SectionWriter, &mut DumpFile),
    ) {
        let process = self.process;
        let mut w = SectionWriter::begin(self, kind, process, len);
        fill(&mut w, self);
        if !w.end(self) && self.error.is_none() {
            pr_err!(
                "internal error: section {} payload length mismatch\n",
                kind as u32
            );
            self.error = Some(EINVAL);
        }
        self.sections += 1;
    }

    /// Makes the pages be written compressed, with `compressor`.
    pub(crate) fn compress_pages(&mut self, compressor: PageCompressor) -> Result {
        self.compressor = Some(KBox::new(compressor, GFP_KERNEL)?);
        Ok(())
    }

    /// The compressor, if the pages are compressed, lent to the one who
    /// writes them (and given back with [`DumpFile::give_back_compressor`]).
    pub(crate) fn take_compressor(&mut self) -> Option<KBox<PageCompressor>> {
        self.compressor.take()
    }

    /// Ends a loan of [`DumpFile::take_compressor`].
    pub(crate) fn give_back_compressor(&mut self, compressor: Option<KBox<PageCompressor>>) {
        self.compressor = compressor;
    }

    /// Makes the next sections those of process `index` of the dump.
    pub(crate) fn set_process(&mut self, index: u32) {
        self.process = index;
    }

    /// The first write error, if any.
    pub(crate) fn error(&self) -> Result {
        self.error.map_or(Ok(()), Err)
    }

    /// Completes the dump: header, sync, rename over the final name.
    /// Returns its size.
    pub(crate) fn commit(mut self, mut header: Header) -> Result<u64> {
        self.flush();
        self.error()?;
        header.sections = self.sections;
        header.file_size = self.pos as u64;
        let mut at = 0;
        self.write_at(&header.encode(), &mut at)?;
        with_pending_signals_hidden(|| self.sync_and_rename())?;
        self.committed = true;
        Ok(header.file_size)
    }

    fn sync_and_rename(&mut self) -> Result {
        let file = self.file.as_ref().ok_or(EBADF)?;
        file.sync()?;
        let (from, to) = (&self.temp_name, &self.final_name);
        // The file stays open until renamed: the entry renamed must be it,
        // not something put in its place meanwhile.
        {
            let dir = self.dir.lock()?;
            let old = dir.lookup(from)?;
            if !old.is_of(file) {
                return Err(ENOENT);
            }
            let new = dir.lookup(to)?;
            dir.rename(&old, &new)?;
        }
        // Synced and in place: what closing reports no longer matters.
        let _ = self.close();
        Ok(())
    }

    fn close(&mut self) -> Result {
        match self.file.take() {
            Some(file) => File::close(file),
            None => Ok(()),
        }
    }
}

/// Writes all of `bytes` at `*pos`, advancing it.
fn write_all(file: &File, bytes: &[u8], pos: &mut i64) -> Result {
    let mut done = 0;
    while done < bytes.len() {
        match file.write_at(&bytes[done..], pos)? {
            0 => return Err(EIO),
            n => done += n,
        }
    }
    Ok(())
}

impl Sink for DumpFile {
    fn put(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.error.is_none() {
            let room = self.buffer.get_mut(self.buffered..).unwrap_or(&mut []);
            let n = room.len().min(bytes.len());
            if n == 0 {
                // Only a dump whose buffer could not be allocated has none.
                self.error = Some(ENOMEM);
                break;
            }
            room[..n].copy_from_slice(&bytes[..n]);
            self.buffered += n;
            bytes = &bytes[n..];
            if self.buffered == self.buffer.len() {
                self.flush();
            }
        }
    }
}

impl Drop for DumpFile {
    fn drop(&mut self) {
        with_pending_signals_hidden(|| self.discard());
    }
}

impl DumpFile {
    /// Unless committed, removes the file (if its name is still its own),
    /// then closes it.
    fn discard(&mut self) {
        let Some(file) = self.file.as_ref() else {
            return;
        };
        if !self.committed {
            // A failed checkpoint leaves nothing behind but the previous dump.
            let name = &self.temp_name;
            let _ = self.dir.lock().and_then(|dir| {
                let victim = dir.lookup(name)?;
                if !victim.is_of(file) {
                    return Ok(());
                }
                dir.unlink(&victim)
            });
        }
        let _ = self.close();
    }
}
