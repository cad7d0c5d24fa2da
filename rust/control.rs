// SPDX-License-Identifier: GPL-2.0

//! `/proc/chpox`: commands in, registrations out.

use crate::abi::registration::{self, Add, Command, CommandError, Entry, Sink};
use crate::kernel_ext::bindings;
use crate::kernel_ext::cred::{CredentialOverride, RequestFile};
use crate::kernel_ext::pid::Pid;
use crate::kernel_ext::task::TaskExt;
use crate::permission::{self, Manager};
use crate::registry::{Registration, Registry, Status};
use crate::restore;
use crate::writer::DumpDir;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ARef;
use kernel::uaccess::UserSlice;

/// The `/proc/chpox` entry; removed, with every running operation on it
/// waited for, when dropped.
pub(crate) struct ControlFile {
    entry: NonNull<bindings::proc_dir_entry>,
    // Released after the entry is gone: its operations use the registry.
    _registry: Arc<Registry>,
}

// SAFETY: the entry pointer is only handed back to `proc_remove()`.
unsafe impl Send for ControlFile {}
// SAFETY: `ControlFile` has no methods taking `&self`.
unsafe impl Sync for ControlFile {}

static PROC_OPS: bindings::proc_ops = bindings::proc_ops {
    proc_open: Some(open),
    proc_read: Some(bindings::seq_read),
    proc_lseek: Some(bindings::seq_lseek),
    proc_release: Some(bindings::single_release),
    proc_write: Some(write),
    // SAFETY: all-zero is a valid `proc_ops`: no flags, no other operations.
    ..unsafe { core::mem::zeroed() }
};

impl ControlFile {
    pub(crate) fn create(registry: Arc<Registry>) -> Result<Self> {
        let data = core::ptr::from_ref::<Registry>(&registry).cast_mut().cast();
        // Everyone may open it; each command checks its caller's rights.
        // SAFETY: the name is a static string, `PROC_OPS` is static and
        // `data` points into the `Arc` kept in `Self`, which outlives the
        // entry.
        let entry = unsafe {
            bindings::proc_create_data(
                kernel::c_str!("chpox").as_char_ptr(),
                0o666,
                core::ptr::null_mut(),
                &PROC_OPS,
                data,
            )
        };
        let Some(entry) = NonNull::new(entry) else {
            pr_err!("cannot create {}\n", registration::PROC_PATH);
            return Err(ENOMEM);
        };
        Ok(ControlFile {
            entry,
            _registry: registry,
        })
    }
}

impl Drop for ControlFile {
    fn drop(&mut self) {
        // SAFETY: the entry was created in `create` and is removed once.
        unsafe { bindings::proc_remove(self.entry.as_ptr()) };
    }
}

/// The registry of the `/proc/chpox` entry `inode` belongs to.
///
/// # Safety
///
/// `inode` must be the inode of the entry made by [`ControlFile::create`],
/// during one of its operations.
unsafe fn registry_of<'a>(inode: *mut bindings::inode) -> &'a Registry {
    // SAFETY: the entry's data is the registry, kept alive by the
    // `ControlFile` until `proc_remove()` has waited for every operation.
    unsafe { &*bindings::chpox_pde_data(inode).cast::<Registry>() }
}

/// `proc_open` of `/proc/chpox`.
///
/// # Safety
///
/// Called by procfs only, with the inode of our entry and a new file.
unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: called by procfs for our entry; `show` matches what
    // `single_open()` expects and finds the registry in `private`.
    unsafe { bindings::single_open(file, Some(show), bindings::chpox_pde_data(inode)) }
}

struct SeqSink(*mut bindings::seq_file);

impl Sink for SeqSink {
    fn put(&mut self, bytes: &[u8]) {
        // SAFETY: `show` hands us the live seq_file. When its buffer is full
        // seq_write() marks it overflowed and seq_read() calls `show` again
        // with a larger one, so the result needs no checking.
        unsafe { bindings::seq_write(self.0, bytes.as_ptr().cast(), bytes.len()) };
    }
}

/// The `show` callback of the `seq_file` set up by [`open`].
///
/// # Safety
///
/// Called by `seq_read()` only, with a seq_file made by [`open`].
unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `open` stored the registry as the seq_file's private data and
    // the entry keeps it alive while the file is open.
    let registry = unsafe { &*(*m).private.cast::<Registry>() };
    let mut out = SeqSink(m);
    registry.for_each(|r| {
        // Registrations of processes the reader's pid namespace cannot see
        // are not listed.
        let pid = r.pid.nr_for_current();
        if pid != 0 {
            Entry {
                pid,
                signal: r.signal,
                flags: r.flags,
                uid: r.registrant.euid(),
                state: if r.status.pending {
                    "checkpointing"
                } else {
                    "idle"
                },
                checkpoints: r.status.checkpoints,
                last: r.status.last,
                file: &r.file,
            }
            .write(&mut out);
        }
    });
    0
}

/// `proc_write` of `/proc/chpox`: one command per call.
///
/// # Safety
///
/// Called by procfs only, with an open file of our entry and a user buffer
/// of `count` bytes.
unsafe extern "C" fn write(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: procfs calls us with a live file of our entry.
    let (Some(opener), registry) = (unsafe { RequestFile::from_raw(file) }, unsafe {
        registry_of(bindings::chpox_file_inode(file))
    }) else {
        return EINVAL.to_errno() as isize;
    };
    match execute(registry, &opener, buf as usize, count) {
        Ok(Written::All) => count as isize,
        Ok(Written::Restored(rax)) => rax,
        Err(e) => e.to_errno() as isize,
    }
}

fn errno_of(e: CommandError) -> Error {
    match e {
        CommandError::PathTooLong => crate::kernel_ext::errno::ENAMETOOLONG(),
        _ => EINVAL,
    }
}

/// What a successful `write()` returns.
enum Written {
    /// The byte count, as usual.
    All,
    /// The restored program's `rax`: the `write()` returns into it.
    Restored(isize),
}

/// Runs one command written by user space at `buf`.
fn execute(
    registry: &Registry,
    opener: &RequestFile<'_>,
    buf: usize,
    count: usize,
) -> Result<Written> {
    if count > registration::COMMAND_MAX {
        return Err(EINVAL);
    }
    let mut bytes = KVec::new();
    UserSlice::new(buf, count).read_all(&mut bytes, GFP_KERNEL)?;
    match registration::parse_command(&bytes).map_err(errno_of)? {
        Command::Add(add) => register(registry, opener, &add)?,
        Command::Del(pid) => registry.remove(pid, &Manager::of(opener))?,
        Command::Clear => registry.clear(&Manager::of(opener)),
        Command::Restore {
            dump_fd,
            control_fd,
            process,
        } => return restore::restore_current(dump_fd, control_fd, process).map(Written::Restored),
    }
    Ok(Written::All)
}

/// Registers the process of an `add` command after checking it exists, is a
/// user process and may be checkpointed by the opener, whose view of the
/// file system names the dump's directory.
fn register(registry: &Registry, opener: &RequestFile<'_>, add: &Add<'_>) -> Result {
    let pid = Pid::find(add.pid).ok_or(ESRCH)?;
    let process = pid.process().ok_or(ESRCH)?;
    if process.is_kernel_thread() {
        return Err(EPERM);
    }
    if process.process_exiting() {
        return Err(ESRCH);
    }
    if !permission::may_checkpoint(opener, &process, add.pid) {
        return Err(EPERM);
    }
    let registrant = ARef::from(opener.opener());
    let dir = {
        let _creds = CredentialOverride::new(&registrant);
        DumpDir::resolve(add.path)?.0
    };
    let mut file = KVec::new();
    file.extend_from_slice(add.path, GFP_KERNEL)?;
    let registration = KBox::new(
        Registration {
            pid,
            signal: add.signal,
            flags: add.flags,
            file,
            registrant,
            privileged: permission::privileged(opener),
            dir,
            status: Status::NEW,
        },
        GFP_KERNEL,
    )?;
    registry.add(registration, &process)
}
