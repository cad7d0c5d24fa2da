// SPDX-License-Identifier: GPL-2.0

//! Restoring a dump, the mirror of the checkpoint.
//!
//! ld-chpox first opens every file, pipe and socket of the dump itself
//! ([`objects`]), so that what the processes shared stays shared. It then
//! forks the root with its original pid, which forks its children the same
//! way, and so on ([`tree`]). Each process puts its descriptors in place
//! ([`files`]), its cwd, umask and signal state ([`signals`]), starts its
//! other threads, each of which enters its own `restore` write to
//! /proc/chpox ([`threads`]), reports that it is ready, and once every
//! process is, writes `restore` to /proc/chpox itself ([`process`]): the
//! module replaces its memory and every thread's registers, and the
//! `write()`s return into the restored program. ld-chpox stays the root's
//! parent and exits as the root does. A dump of an earlier boot gets a time
//! namespace that keeps its clocks going ([`clocks`]). Before it opens or
//! looks at anything the dump names, ld-chpox takes the credentials the
//! restored processes will have ([`identity`]).

mod barrier;
mod capabilities;
mod clocks;
mod error;
mod files;
mod fpu;
mod identity;
mod lazy;
mod listener;
mod objects;
mod process;
mod signals;
mod threads;
mod tree;
mod uffd;

use barrier::Barrier;
use chpox_abi::dump::{decode_files, decode_vmas, vma_flags, Dump, SectionKind};
use identity::{Privileges, Recorded};
use nix::fcntl::{fcntl, FcntlArg};
use nix::libc;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use objects::Table;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;
use tree::Tree;

pub(crate) use error::Error;
pub(crate) use identity::describe as describe_identity;
pub(crate) use listener::shown as shown_name;
pub use process::ensure_no_rseq;

/// Everything a process of the tree needs to become its dumped self,
/// prepared by ld-chpox before the first fork.
pub(crate) struct Restorer<'a> {
    pub(crate) path: &'a Path,
    /// The dump file ld-chpox read, which the module reads again.
    pub(crate) file: &'a File,
    pub(crate) dump: &'a Dump<'a>,
    pub(crate) tree: Tree<'a>,
    pub(crate) table: Table,
    pub(crate) barrier: Barrier,
    /// Lowest descriptor number that no dumped process uses.
    pub(crate) base: i32,
    /// The capabilities kept for building the tree.
    pub(crate) privileges: Privileges,
    /// For a lazy restore, the links of the processes to the page server.
    pub(crate) lazy: Option<lazy::Links>,
}

/// The result of a raw system call (negative on failure, with errno set),
/// for the calls nix does not offer.
pub(crate) fn raw(ret: libc::c_long, what: &str) -> Result<libc::c_long, Error> {
    if ret < 0 {
        return Err(Error::sys(what, std::io::Error::last_os_error()));
    }
    Ok(ret)
}

/// A nix result with its error as `what: error`, worded as the standard
/// library words an OS error (the message users have always seen).
pub(crate) fn sys<T>(result: nix::Result<T>, what: &str) -> Result<T, Error> {
    result.map_err(|e| Error::sys(what, e))
}

/// Duplicates `fd` to the lowest free number at or above `base`,
/// close-on-exec.
pub(crate) fn dup_high(fd: BorrowedFd<'_>, base: RawFd) -> Result<OwnedFd, Error> {
    let new = sys(
        fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(base)),
        "fcntl(F_DUPFD)",
    )?;
    // SAFETY: fcntl() just made `new`, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The highest descriptor number any process of the dump used.
fn max_fd(dump: &Dump<'_>) -> Result<i32, Error> {
    let mut max = 2;
    for p in 0..dump.header.processes {
        let files = dump
            .only(p, SectionKind::Files)
            .and_then(|s| decode_files(s.payload))?;
        max = files.map(|f| f.fd as i32).fold(max, i32::max);
    }
    Ok(max)
}

/// The files the processes mapped privately are as they were: their pages
/// never written are read from them again.
fn check_mapped_files(dump: &Dump<'_>) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    for p in 0..dump.header.processes {
        let vmas = dump
            .only(p, SectionKind::Vmas)
            .and_then(|s| decode_vmas(s.payload))?;
        let private_file = vma_flags::FILE | vma_flags::SHARED;
        for v in vmas.filter(|v| v.flags & private_file == vma_flags::FILE) {
            let name = String::from_utf8_lossy(v.path);
            let meta = std::fs::metadata(std::ffi::OsStr::from_bytes(v.path))
                .map_err(|e| format!("{name}, mapped by the program, is not there: {e}"))?;
            let mtime_ns = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
            if meta.size() != v.stamp.size || mtime_ns != v.stamp.mtime_ns as i128 {
                return Err(format!(
                    "{name} changed since the checkpoint (size or modification time): \
                     the program mapped it, and would get different contents"
                )
                .into());
            }
        }
    }
    Ok(())
}

/// Prepares everything and starts the tree; returns the root's pid and,
/// for a lazy restore, the page server's thread in `scope`.
fn start<'s>(
    path: &'s Path,
    file: &'s File,
    dump: &'s Dump<'s>,
    lazy: Option<&'s std::thread::Scope<'s, '_>>,
) -> Result<(Pid, Option<std::thread::ScopedJoinHandle<'s, ()>>), Error> {
    let tree = Tree::of(dump)?;
    tree.check_pids_free()?;
    let plan = identity::plan(file, dump)?;
    // Making the time namespace needs CAP_SYS_ADMIN, which taking the
    // owner's credentials gives up.
    clocks::keep_going(dump)?;
    let privileges = identity::assume(&plan, &Recorded::from(&tree.get(0).info))?;
    // From here on, everything is done with the restored processes' rights.
    if lazy.is_some() {
        lazy::check_available()?;
    }
    check_mapped_files(dump)?;
    let base = max_fd(dump)? + 1;
    let table = Table::open(dump, base)?;
    let barrier = Barrier::new(base)?;
    let links = match lazy {
        Some(_) => Some(lazy::Links::new(tree.len(), base)?),
        None => None,
    };
    let mut restorer = Restorer {
        path,
        file,
        dump,
        tree,
        table,
        barrier,
        base,
        privileges,
        lazy: links,
    };
    let root = tree::spawn(&restorer, 0)?;
    restorer.table.close_all();
    restorer.barrier.close_member_ends();
    let n = restorer.tree.len();
    // ld-chpox only waits from now on: it needs no capability.
    let ready = restorer.privileges.give_up();
    // The server is a thread of ld-chpox, started once no more of the tree
    // is forked from here, and without ld-chpox's capabilities.
    let server = match (lazy, &restorer.lazy) {
        (Some(scope), Some(links)) if ready.is_ok() => {
            links.close_member_ends();
            let pids = (0..n)
                .map(|i| Pid::from_raw(restorer.tree.get(i).info.pid))
                .collect();
            let server = lazy::PageServer::new(file, dump, links, pids)?;
            Some(scope.spawn(move || server.run()))
        }
        _ => None,
    };
    if let Err(e) = ready.and_then(|()| restorer.barrier.wait_ready(n)) {
        // Every process waiting for the go sees the barrier close and ends.
        drop(restorer.barrier);
        drop(restorer.lazy);
        let _ = waitpid(root, None);
        return Err(e);
    }
    restorer.barrier.go(n)?;
    Ok((root, server))
}

/// Restores the (validated) dump at `path` and exits as the restored root
/// does; with `lazy`, the private memory is filled as the tree runs, and
/// ld-chpox exits once it is all filled, too.
pub fn run(path: &Path, file: &File, dump: &Dump<'_>, lazy: bool) -> ExitCode {
    // The program answers the terminal's signals; ld-chpox waits.
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: ignoring a signal installs no handler.
        let _ = unsafe { signal::signal(sig, SigHandler::SigIgn) };
    }
    if lazy {
        // Until their memory is filled the processes need ld-chpox: what
        // is not filled when it ends reads as zeros (the page server puts
        // these back once done).
        lazy::hold_off_termination();
    }
    let ended = std::thread::scope(|scope| {
        let (root, server) = start(path, file, dump, lazy.then_some(scope))?;
        let ended = loop {
            match waitpid(root, None) {
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => break status,
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("waitpid", e)),
            }
        };
        // The rest of the tree may still need its pages.
        if let Some(server) = server {
            let _ = server.join();
        }
        Ok(ended)
    });
    match ended {
        Ok(WaitStatus::Exited(_, code)) => ExitCode::from(code as u8),
        Ok(WaitStatus::Signaled(_, sig, _)) => die_like(sig),
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ld-chpox: cannot restore {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Ends ld-chpox by the signal that ended the restored program, so that a
/// shell sees the same result (without a core dump of ld-chpox).
fn die_like(sig: Signal) -> ! {
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    // SAFETY: the default action installs no handler.
    let _ = unsafe { signal::signal(sig, SigHandler::SigDfl) };
    let _ = signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&SigSet::from(sig)), None);
    let _ = signal::raise(sig);
    exit_now(128 + sig as i32)
}

/// Ends this process at once with `status`, running none of ld-chpox's
/// exit handlers (nix has no `_exit()`).
pub(crate) fn exit_now(status: i32) -> ! {
    // SAFETY: _exit() ends the process; nothing of it runs afterwards.
    unsafe { libc::_exit(status) }
}
