// SPDX-License-Identifier: GPL-2.0

//! `/proc/chpox`: commands in, registrations out.

use crate::abi::registration::{self, Add, Command, CommandError, Entry, Sink};
use crate::kernel_ext::cred::{CredentialOverride, RequestFile};
use crate::kernel_ext::errno::ENAMETOOLONG;
use crate::kernel_ext::file::File;
use crate::kernel_ext::pid::Pid;
use crate::kernel_ext::proc_file::{ProcEntry, ProcFileOps, SeqFile};
use crate::kernel_ext::task::TaskExt;
use crate::permission::{self, Manager};
use crate::registry::{Registration, Registry, Status};
use crate::restore::{self, Restores};
use crate::writer::DumpDir;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ARef;
use kernel::uaccess::UserSlice;

/// The `/proc/chpox` entry; removed, with every running operation on it
/// waited for, when dropped (the registry is released after: its
/// operations use it).
pub(crate) struct ControlFile {
    _entry: ProcEntry<Control>,
}

/// What the commands act on.
#[pin_data]
struct Control {
    registry: Arc<Registry>,
    /// Processes whose threads are being restored.
    #[pin]
    restores: Restores,
}

impl ControlFile {
    pub(crate) fn create(registry: Arc<Registry>) -> Result<Self> {
        let control = Arc::pin_init(
            pin_init!(Control {
                registry,
                restores <- Restores::new(),
            }),
            GFP_KERNEL,
        )?;
        // Everyone may open it; each command checks its caller's rights.
        match ProcEntry::create(kernel::c_str!("chpox"), 0o666, control) {
            Ok(entry) => Ok(ControlFile { _entry: entry }),
            Err(e) => {
                pr_err!("cannot create {}\n", registration::PROC_PATH);
                Err(e)
            }
        }
    }
}

struct SeqSink<'a>(&'a SeqFile);

impl Sink for SeqSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
}

impl ProcFileOps for Control {
    /// The registrations, one a line.
    fn show(&self, out: &SeqFile) {
        let mut out = SeqSink(out);
        self.registry.for_each(|r| {
            // Registrations of processes the reader's pid namespace cannot
            // see are not listed.
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
    }

    /// One command per call.
    fn write(&self, file: &File, input: UserSlice, len: usize) -> Result<isize> {
        match execute(self, &RequestFile::of(file), input, len)? {
            Written::All => Ok(len as isize),
            Written::Restored(rax) => Ok(rax),
        }
    }
}

fn errno_of(e: CommandError) -> Error {
    match e {
        CommandError::PathTooLong => ENAMETOOLONG(),
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

/// Runs one command, the `len` bytes user space wrote at `input`.
fn execute(
    control: &Control,
    opener: &RequestFile<'_>,
    input: UserSlice,
    len: usize,
) -> Result<Written> {
    if len > registration::COMMAND_MAX {
        return Err(EINVAL);
    }
    let mut bytes = KVec::new();
    input.read_all(&mut bytes, GFP_KERNEL)?;
    let registry = &control.registry;
    match registration::parse_command(&bytes).map_err(errno_of)? {
        Command::Add(add) => register(registry, opener, &add)?,
        Command::Del(pid) => registry.remove(pid, &Manager::of(opener))?,
        Command::Clear => registry.clear(&Manager::of(opener)),
        Command::Restore {
            dump_fd,
            control_fd,
            process,
            thread,
            lazy_fd,
        } => {
            let descriptors = restore::Descriptors {
                dump: dump_fd,
                control: control_fd,
                lazy: lazy_fd,
            };
            let restored =
                restore::restore_current(&control.restores, descriptors, process, thread);
            return restored.map(Written::Restored);
        }
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
