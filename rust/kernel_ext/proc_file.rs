// SPDX-License-Identifier: GPL-2.0

//! A file in `/proc` whose reads show its data through a `seq_file` and
//! whose writes go to that data.

use crate::kernel_ext::bindings;
use crate::kernel_ext::file::File;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;
use kernel::types::Opaque;
use kernel::uaccess::UserSlice;

/// What a `/proc` file does; implemented by the data behind it.
pub(crate) trait ProcFileOps: Send + Sync + 'static {
    /// Writes the whole contents of the file to `out` (called again with a
    /// larger buffer when it did not fit).
    fn show(&self, out: &SeqFile);

    /// One `write()` of `len` bytes at `input` through the open `file`;
    /// returns what the `write()` returns.
    fn write(&self, file: &File, input: UserSlice, len: usize) -> Result<isize>;
}

/// The output of a `show`: a `struct seq_file`.
///
/// # Invariants
///
/// A valid seq_file, within its `show` callback.
#[repr(transparent)]
pub(crate) struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// Appends `bytes`. When the buffer is full the seq_file is marked
    /// overflowed and `show` is called again with a larger one, so there is
    /// nothing to check.
    pub(crate) fn write(&self, bytes: &[u8]) {
        // SAFETY: the seq_file is valid; `bytes` is a kernel buffer.
        unsafe { bindings::seq_write(self.0.get(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

/// A `/proc` entry, removed (with every running operation on it waited
/// for) when dropped.
///
/// # Invariants
///
/// `entry` was made by `proc_create_data()` with `data`'s object as its
/// data and the operations of `T`; it is removed only in `drop`, before
/// `data` is released.
pub(crate) struct ProcEntry<T: ProcFileOps> {
    entry: NonNull<bindings::proc_dir_entry>,
    _data: Arc<T>,
}

// SAFETY: the entry is only handed back to `proc_remove()`, which may be
// called from any thread; `T` is `Send + Sync`.
unsafe impl<T: ProcFileOps> Send for ProcEntry<T> {}
// SAFETY: `&ProcEntry` gives access to nothing but `&T`, which is `Sync`.
unsafe impl<T: ProcFileOps> Sync for ProcEntry<T> {}

impl<T: ProcFileOps> ProcEntry<T> {
    /// Creates `/proc/NAME` with permissions `mode`, backed by `data`.
    pub(crate) fn create(name: &'static CStr, mode: u16, data: Arc<T>) -> Result<Self> {
        let ptr = core::ptr::from_ref::<T>(&data).cast_mut().cast();
        // SAFETY: the name is static, the operations are static and `ptr`
        // points into the `Arc` kept in `Self`, which outlives the entry.
        let entry = unsafe {
            bindings::proc_create_data(
                name.as_char_ptr(),
                mode,
                core::ptr::null_mut(),
                Vtable::<T>::ops(),
                ptr,
            )
        };
        // INVARIANT: made just above with `data`.
        Ok(ProcEntry {
            entry: NonNull::new(entry).ok_or(ENOMEM)?,
            _data: data,
        })
    }
}

impl<T: ProcFileOps> Drop for ProcEntry<T> {
    fn drop(&mut self) {
        // SAFETY: made in `create`, removed once; proc_remove() waits for
        // the operations running on it, so `data` is released after.
        unsafe { bindings::proc_remove(self.entry.as_ptr()) };
    }
}

/// The data of the entry `inode` belongs to.
///
/// # Safety
///
/// `inode` is the inode of an entry made by [`ProcEntry::create`] for `T`,
/// during one of its operations.
unsafe fn data_of<'a, T>(inode: *const bindings::inode) -> &'a T {
    // SAFETY: the entry's data is a `T`, kept alive by the `ProcEntry`
    // until `proc_remove()` has waited for every operation.
    unsafe { &*bindings::chpox_pde_data(inode).cast::<T>() }
}

struct Vtable<T>(PhantomData<T>);

impl<T: ProcFileOps> Vtable<T> {
    const OPS: bindings::proc_ops = bindings::proc_ops {
        proc_open: Some(Self::open),
        proc_read: Some(bindings::seq_read),
        proc_lseek: Some(bindings::seq_lseek),
        proc_release: Some(bindings::single_release),
        proc_write: Some(Self::write),
        // SAFETY: all-zero is a valid `proc_ops`: no flags, no other
        // operations.
        ..unsafe { core::mem::zeroed() }
    };

    /// The operations, in static memory (`OPS` is promoted: checked by the
    /// `'static` return type).
    fn ops() -> &'static bindings::proc_ops {
        &Self::OPS
    }

    /// `proc_open`.
    ///
    /// # Safety
    ///
    /// Called by procfs only, with the inode of our entry and a new file.
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: called by procfs for our entry; `show` matches what
        // `single_open()` expects and finds the data in `private`.
        unsafe { bindings::single_open(file, Some(Self::show), bindings::chpox_pde_data(inode)) }
    }

    /// The `show` callback of the `seq_file` set up by `open`.
    ///
    /// # Safety
    ///
    /// Called by `seq_read()` only, with a seq_file made by `open`.
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: `open` stored the data as the seq_file's private data and
        // the entry keeps it alive while the file is open.
        let data = unsafe { &*(*m).private.cast::<T>() };
        // INVARIANT: a valid seq_file, within `show`.
        // SAFETY: `SeqFile` is a transparent wrapper; `m` is valid for the
        // call.
        data.show(unsafe { &*m.cast::<SeqFile>() });
        0
    }

    /// `proc_write`.
    ///
    /// # Safety
    ///
    /// Called by procfs only, with an open file of our entry and a user
    /// buffer of `count` bytes.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _pos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: procfs calls us with a live file of our entry.
        let file = unsafe { File::from_raw(file) };
        // SAFETY: as above: the file's inode is our entry's.
        let data = unsafe { data_of::<T>(file.inode().as_ptr()) };
        match data.write(file, UserSlice::new(buf as usize, count), count) {
            Ok(n) => n,
            Err(e) => e.to_errno() as isize,
        }
    }
}
