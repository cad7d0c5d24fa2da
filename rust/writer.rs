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
use crate::kernel_ext::bindings;
use crate::kernel_ext::task::with_pending_signals_hidden;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::str::CStr;

/// Bytes gathered before each `kernel_write()`.
const BUFFER: usize = 256 * 1024;
/// Attempts at a free temporary name: a clash is either chance (2^-32) or
/// someone creating names there on purpose.
const TEMP_NAME_TRIES: usize = 8;
/// Longest name of a directory entry (`NAME_MAX`).
const NAME_MAX: usize = 255;
/// What the temporary name adds to the final one: `.`, `.chpox-`, 8 digits.
const TEMP_NAME_EXTRA: usize = 16;

/// Turns an `ERR_PTR`-or-pointer into a `Result`.
pub(crate) fn check_ptr<T>(ptr: *mut T) -> Result<NonNull<T>> {
    // SAFETY: `IS_ERR`/`PTR_ERR` only look at the pointer value.
    if unsafe { bindings::IS_ERR(ptr.cast()) } {
        // SAFETY: see above.
        return Err(Error::from_errno(
            unsafe { bindings::PTR_ERR(ptr.cast()) } as i32
        ));
    }
    NonNull::new(ptr).ok_or(ENOENT)
}

/// A NUL-terminated copy of `parts` concatenated.
pub(crate) fn c_string(parts: &[&[u8]]) -> Result<KVec<u8>> {
    let mut s = KVec::new();
    for p in parts {
        s.extend_from_slice(p, GFP_KERNEL)?;
    }
    s.push(0, GFP_KERNEL)?;
    Ok(s)
}

fn as_cstr(s: &KVec<u8>) -> &CStr {
    // `c_string` ends every string with its only NUL (paths hold none).
    CStr::from_bytes_with_nul(s).unwrap_or(kernel::c_str!(""))
}

/// A dentry reference from `lookup_one_len()`, released on drop.
struct Dentry(NonNull<bindings::dentry>);

impl Dentry {
    /// Looks `name` up in the locked directory `dir`.
    fn lookup(name: &[u8], dir: *mut bindings::dentry) -> Result<Self> {
        // SAFETY: the caller holds `dir`'s inode lock, as lookup_one_len()
        // requires; `name` is valid for its length.
        let d = unsafe { bindings::lookup_one_len(name.as_ptr().cast(), dir, name.len() as i32) };
        check_ptr(d).map(Dentry)
    }

    /// Whether the entry is that of the open `file`.
    fn is_of(&self, file: NonNull<bindings::file>) -> bool {
        // SAFETY: we hold a reference to the dentry, and the caller holds
        // the file.
        unsafe {
            let inode = (*self.0.as_ptr()).d_inode;
            !inode.is_null() && inode == bindings::chpox_file_inode(file.as_ptr())
        }
    }
}

impl Drop for Dentry {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { bindings::dput(self.0.as_ptr()) }
    }
}

/// The directory a registration writes its dumps into, resolved at
/// registration with the registrant's credentials in the registrant's
/// view of the file system (mount namespace, root), and held as an
/// `O_PATH` file: the target cannot redirect it by changing its own view,
/// and dropping it never sleeps (`fput()` defers), so registrations can go
/// away in atomic context.
pub(crate) struct DumpDir(NonNull<bindings::file>);

// SAFETY: a file reference may be used and released from any thread.
unsafe impl Send for DumpDir {}
// SAFETY: only the immutable `f_path` is read through `&self`.
unsafe impl Sync for DumpDir {}

impl DumpDir {
    /// Resolves the directory of the absolute dump path `path` as the
    /// current task (with the current credentials) sees it; returns it and
    /// the file name.
    pub(crate) fn resolve(path: &[u8]) -> Result<(Self, &[u8])> {
        let (dir, name) = split_path(path)?;
        let dir = c_string(&[dir])?;
        let flags = bindings::O_PATH | bindings::O_DIRECTORY;
        // SAFETY: `dir` is NUL-terminated.
        let file = unsafe { bindings::filp_open(as_cstr(&dir).as_char_ptr(), flags as i32, 0) };
        Ok((DumpDir(check_ptr(file)?), name))
    }

    fn path(&self) -> &bindings::path {
        // SAFETY: the reference keeps the file alive; `f_path` is set at
        // open and never changes.
        unsafe { &(*self.0.as_ptr()).f_path }
    }

    /// Creates `name` in the directory, exclusively (never an existing
    /// entry, never through a link), for writing.
    fn create_exclusive(&self, name: &[u8]) -> Result<NonNull<bindings::file>> {
        let name = c_string(&[name])?;
        let flags = bindings::O_WRONLY
            | bindings::O_CREAT
            | bindings::O_EXCL
            | bindings::O_NOFOLLOW
            | bindings::O_LARGEFILE;
        let file = with_pending_signals_hidden(|| {
            // SAFETY: the path is held; `name` is one NUL-terminated
            // component, resolved below it.
            unsafe {
                bindings::file_open_root(
                    self.path(),
                    as_cstr(&name).as_char_ptr(),
                    flags as i32,
                    0o600,
                )
            }
        });
        check_ptr(file)
    }

    /// Runs `f` with the directory writable and locked.
    fn locked<T>(
        &self,
        f: impl FnOnce(*mut bindings::vfsmount, *mut bindings::dentry) -> Result<T>,
    ) -> Result<T> {
        let parent = self.path();
        // SAFETY: the path is held by the file.
        to_result(unsafe { bindings::mnt_want_write(parent.mnt) })?;
        // Same directory twice: lock_rename() just locks its inode.
        // SAFETY: `parent.dentry` is a live directory.
        unsafe { bindings::lock_rename(parent.dentry, parent.dentry) };
        let r = f(parent.mnt, parent.dentry);
        // SAFETY: locked just above, and write access taken before.
        unsafe {
            bindings::unlock_rename(parent.dentry, parent.dentry);
            bindings::mnt_drop_write(parent.mnt);
        }
        r
    }
}

impl Clone for DumpDir {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference, so the file is alive; the
        // helper returns it with one more.
        unsafe { bindings::chpox_get_file(self.0.as_ptr()) };
        DumpDir(self.0)
    }
}

impl Drop for DumpDir {
    fn drop(&mut self) {
        // SAFETY: we own one reference; fput() may be called in atomic
        // context.
        unsafe { bindings::fput(self.0.as_ptr()) }
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
        return Err(crate::kernel_ext::errno::ENAMETOOLONG());
    }
    Ok((dir, name))
}

/// `.NAME.chpox-XXXXXXXX` with eight random hex digits.
fn temp_name(name: &[u8]) -> Result<KVec<u8>> {
    // SAFETY: a plain call into the random number generator.
    let random = unsafe { bindings::get_random_u32() };
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
    file: Option<NonNull<bindings::file>>,
    pos: bindings::loff_t,
    buffer: KVec<u8>,
    error: Option<Error>,
    dir: DumpDir,
    temp_name: KVec<u8>,
    final_name: KVec<u8>,
    sections: u32,
    /// The process the next sections belong to.
    process: u32,
    committed: bool,
}

// SAFETY: the file reference may be used and released from any thread.
unsafe impl Send for DumpFile {}

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
            pos: HEADER_SIZE as bindings::loff_t,
            buffer: KVec::new(),
            error: None,
            dir: dir.clone(),
            temp_name,
            final_name,
            sections: 0,
            process: 0,
            committed: false,
        };
        // Allocated after `dump` exists, so that a failure removes the file.
        dump.buffer = KVec::with_capacity(BUFFER, GFP_KERNEL)?;
        Ok(dump)
    }

    fn write_at(&mut self, bytes: &[u8], pos: &mut bindings::loff_t) -> Result {
        let file = self.file.ok_or(EBADF)?;
        with_pending_signals_hidden(|| Self::write_all(file, bytes, pos))
    }

    fn write_all(
        file: NonNull<bindings::file>,
        bytes: &[u8],
        pos: &mut bindings::loff_t,
    ) -> Result {
        let mut done = 0;
        while done < bytes.len() {
            let rest = &bytes[done..];
            // SAFETY: the file is open for writing; `rest` is a kernel buffer.
            let n = unsafe {
                bindings::kernel_write(file.as_ptr(), rest.as_ptr().cast(), rest.len(), pos)
            };
            match n {
                n if n < 0 => return Err(Error::from_errno(n as i32)),
                0 => return Err(EIO),
                n => done += n as usize,
            }
        }
        Ok(())
    }

    fn flush(&mut self) {
        if self.error.is_some() || self.buffer.is_empty() {
            return;
        }
        let buffer = core::mem::take(&mut self.buffer);
        let mut pos = self.pos;
        if let Err(e) = self.write_at(&buffer, &mut pos) {
            self.error = Some(e);
        }
        self.pos = pos;
        self.buffer = buffer;
        // SAFETY: nothing in the buffer is needed any more.
        unsafe { self.buffer.set_len(0) };
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
        let file = self.file.ok_or(EBADF)?;
        // SAFETY: the file is open.
        to_result(unsafe { bindings::vfs_fsync(file.as_ptr(), 0) })?;
        let (from, to) = (&self.temp_name, &self.final_name);
        // The file stays open until renamed: the entry renamed must be it,
        // not something put in its place meanwhile.
        self.dir.locked(|mnt, dir| {
            let old = Dentry::lookup(from, dir)?;
            if !old.is_of(file) {
                return Err(ENOENT);
            }
            let new = Dentry::lookup(to, dir)?;
            // SAFETY: `mnt` and `dir` are live (held by the caller), the
            // dentries are referenced and the directory is locked, which is
            // everything vfs_rename() requires.
            unsafe {
                let idmap = (*mnt).mnt_idmap;
                let dir_inode = (*dir).d_inode;
                let mut rd = bindings::renamedata {
                    old_mnt_idmap: idmap,
                    old_dir: dir_inode,
                    old_dentry: old.0.as_ptr(),
                    new_mnt_idmap: idmap,
                    new_dir: dir_inode,
                    new_dentry: new.0.as_ptr(),
                    delegated_inode: core::ptr::null_mut(),
                    flags: 0,
                };
                to_result(bindings::vfs_rename(&mut rd))
            }
        })?;
        // Synced and in place: what closing reports no longer matters.
        let _ = self.close();
        Ok(())
    }

    fn close(&mut self) -> Result {
        if let Some(file) = self.file.take() {
            // SAFETY: we own the file reference from filp_open().
            to_result(unsafe { bindings::filp_close(file.as_ptr(), core::ptr::null_mut()) })?;
        }
        Ok(())
    }
}

impl Sink for DumpFile {
    fn put(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.error.is_none() {
            let room = BUFFER - self.buffer.len();
            let n = room.min(bytes.len());
            // Never allocates: the capacity is BUFFER.
            if let Err(e) = self.buffer.extend_from_slice(&bytes[..n], GFP_KERNEL) {
                self.error = Some(e.into());
            }
            bytes = &bytes[n..];
            if self.buffer.len() == BUFFER {
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
        let Some(file) = self.file else {
            return;
        };
        if !self.committed {
            // A failed checkpoint leaves nothing behind but the previous dump.
            let name = &self.temp_name;
            let _ = self.dir.locked(|mnt, dir| {
                let victim = Dentry::lookup(name, dir)?;
                if !victim.is_of(file) {
                    return Ok(());
                }
                // SAFETY: as for the rename: live mount, locked directory,
                // referenced dentry.
                to_result(unsafe {
                    bindings::vfs_unlink(
                        (*mnt).mnt_idmap,
                        (*dir).d_inode,
                        victim.0.as_ptr(),
                        core::ptr::null_mut(),
                    )
                })
            });
        }
        let _ = self.close();
    }
}

fn to_result(ret: i32) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}
