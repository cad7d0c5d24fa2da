// SPDX-License-Identifier: GPL-2.0

//! The shape of the tree: who forks whom, with which pid, in which process
//! group and session.
//!
//! Every process gets its original pid back (`clone3()` with `set_tid`),
//! so that what the programs know of each other's pids stays true. That
//! needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) and the pids free; a
//! dump of a single process falls back to any pid without them. When
//! ld-chpox runs a dump as its owner, the capability is effective only
//! around these `clone3()` calls ([`super::identity`]).
//!
//! The root joins ld-chpox's own process group and session, as any command
//! started from a shell would. Groups and sessions that members of the
//! tree led are made again; a member that was in the root's group (or in
//! one outside the tree) is put in the root's group.
//!
//! Children that had exited but were not waited for are made again too:
//! forked with their pid, they end at once as they had ended and stay
//! zombies until the restored parent waits for them.

use super::identity::Privileges;
use super::signals::{self, KernelSigaction};
use super::Error;
use super::{exit_now, process, raw, sys, Restorer};
use chpox_abi::dump::{Dump, ProcessInfo, SectionKind, Zombie};
use nix::errno::Errno;
use nix::libc;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{getpgid, setpgid, setsid, Pid};

/// One process of the dump.
pub(crate) struct Proc<'a> {
    pub(crate) info: ProcessInfo,
    pub(crate) cwd: &'a [u8],
    /// Indices of its children in the dump.
    children: Vec<usize>,
    /// Its children that had exited, not yet waited for.
    zombies: Vec<Zombie>,
}

/// The processes of the dump, root first, parents before children.
pub(crate) struct Tree<'a>(Vec<Proc<'a>>);

/// What a process does about its group and session, once forked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Group {
    /// Nothing: the root stays in ld-chpox's group and session.
    Keep,
    /// It led a session: `setsid()`.
    NewSession,
    /// Joins (or, if `pgid` is its own pid, creates) the group `pgid`.
    Join(i32),
    /// Joins the group the root is in.
    JoinRoot,
}

impl<'a> Tree<'a> {
    /// The tree of a validated dump.
    pub(crate) fn of(dump: &Dump<'a>) -> Result<Self, Error> {
        let mut procs: Vec<Proc<'a>> = Vec::new();
        for p in 0..dump.header.processes {
            let (info, cwd, _) = dump
                .only(p, SectionKind::Process)
                .and_then(|s| ProcessInfo::decode(s.payload))?;
            if p > 0 {
                // validate() has checked that the parent comes earlier.
                let parent = procs
                    .iter()
                    .position(|q| q.info.pid == info.ppid)
                    .ok_or("a process without its parent")?;
                procs[parent].children.push(p as usize);
            }
            procs.push(Proc {
                info,
                cwd,
                children: Vec::new(),
                zombies: dump.zombies(p)?.collect(),
            });
        }
        Ok(Tree(procs))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn get(&self, index: usize) -> &Proc<'a> {
        &self.0[index]
    }

    /// A tree needs its pids back: say early and clearly if one is taken.
    pub(crate) fn check_pids_free(&self) -> Result<(), Error> {
        if self.len() == 1 {
            return Ok(());
        }
        for p in &self.0 {
            if std::path::Path::new(&format!("/proc/{}", p.info.pid)).exists() {
                return Err(format!(
                    "pid {} is in use (does the checkpointed tree still run?): \
                     a tree is restored with its original pids",
                    p.info.pid
                )
                .into());
            }
        }
        for z in self.0.iter().flat_map(|p| &p.zombies) {
            if std::path::Path::new(&format!("/proc/{}", z.pid)).exists() {
                return Err(format!(
                    "pid {}, of an exited child the tree had not waited for, is in use: \
                     a tree is restored with its original pids",
                    z.pid
                )
                .into());
            }
        }
        Ok(())
    }

    fn group(&self, index: usize) -> Group {
        let info = &self.0[index].info;
        if index == 0 {
            Group::Keep
        } else if info.sid == info.pid {
            Group::NewSession
        } else if info.pgid != self.0[0].info.pid && self.0.iter().any(|p| p.info.pid == info.pgid)
        {
            Group::Join(info.pgid)
        } else {
            Group::JoinRoot
        }
    }

    /// The group to put process `index` in, from outside it (its parent) or
    /// from inside (`who` = 0).
    fn set_group(&self, index: usize, who: i32) -> Result<(), Error> {
        let target = match self.group(index) {
            Group::Keep | Group::NewSession => return Ok(()),
            Group::Join(pgid) => pgid,
            // -1 if the root is gone: setpgid() then says what is wrong.
            Group::JoinRoot => {
                getpgid(Some(Pid::from_raw(self.0[0].info.pid))).map_or(-1, Pid::as_raw)
            }
        };
        sys(
            setpgid(Pid::from_raw(who), Pid::from_raw(target)),
            &format!("setpgid({who}, {target})"),
        )
    }
}

/// `struct clone_args` of `clone3()`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct CloneArgs {
    pub(crate) flags: u64,
    pub(crate) pidfd: u64,
    pub(crate) child_tid: u64,
    pub(crate) parent_tid: u64,
    pub(crate) exit_signal: u64,
    pub(crate) stack: u64,
    pub(crate) stack_size: u64,
    pub(crate) tls: u64,
    pub(crate) set_tid: u64,
    pub(crate) set_tid_size: u64,
    pub(crate) cgroup: u64,
}

/// `clone3()`, which nix does not offer: fork() with the pid `args` asks
/// for. Returns the child's pid in the parent, 0 in the child, -1 (errno
/// set) on failure.
fn clone3(args: &CloneArgs) -> libc::c_long {
    // SAFETY: clone3() without CLONE_VM is fork() with a chosen pid;
    // ld-chpox is single-threaded, and the child only runs our code.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

/// Forks a child with pid `pid`, or any pid if `exact` is false and that
/// one cannot be had. `Ok(None)` in the child.
fn fork_as(privileges: &Privileges, pid: i32, exact: bool) -> Result<Option<Pid>, Error> {
    let tid = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tid.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    let (ret, e) = privileges.with_pid_right(|| clone3(&args))?;
    match ret {
        0 => return Ok(None),
        r if r > 0 => return Ok(Some(Pid::from_raw(r as i32))),
        _ => {}
    }
    if exact {
        let hint = match e.raw_os_error() {
            Some(e) if e == Errno::EPERM as i32 => {
                " (needs CAP_CHECKPOINT_RESTORE: run ld-chpox as root)"
            }
            Some(e) if e == Errno::EEXIST as i32 => " (taken by another process)",
            _ => "",
        };
        return Err(format!("cannot give back pid {pid}: {e}{hint}").into());
    }
    // SAFETY: as above, with the kernel's choice of pid.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => Ok(None),
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Some(child)),
        Err(e) => Err(format!("fork: {e}").into()),
    }
}

/// Forks process `index` of the tree (which forks its own children) and
/// returns its pid; in the child, never returns.
pub(crate) fn spawn(r: &Restorer<'_>, index: usize) -> Result<Pid, Error> {
    let exact = r.tree.len() > 1;
    match fork_as(&r.privileges, r.tree.0[index].info.pid, exact)? {
        Some(child) => {
            // The parent sets the group too, so that a sibling forked next
            // can join it whichever of the two runs first.
            let _ = r.tree.set_group(index, child.as_raw());
            Ok(child)
        }
        None => {
            let outcome = become_member(r, index);
            process::fail(r, outcome)
        }
    }
}

/// In the new process: its group or session, then its children, then
/// everything else; returns only on failure.
fn become_member(r: &Restorer<'_>, index: usize) -> Error {
    let setup = (|| -> Result<(), Error> {
        r.privileges.take_gids_of(&r.tree.0[index].info)?;
        if r.tree.group(index) == Group::NewSession {
            sys(setsid(), "setsid")?;
        }
        r.tree.set_group(index, 0)?;
        for &child in &r.tree.0[index].children {
            spawn(r, child)?;
        }
        // The capabilities kept for building the tree are given up once
        // the process has started its threads too (process::become_dumped).
        make_zombies(r, index)
    })();
    match setup {
        Ok(()) => process::become_dumped(r, index),
        Err(e) => e,
    }
}

/// Forks the exited children of process `index` again; each ends as it
/// had ended. Returns once all have, so that none is still running when the
/// program takes over.
fn make_zombies(r: &Restorer<'_>, index: usize) -> Result<(), Error> {
    let zombies = &r.tree.0[index].zombies;
    if zombies.is_empty() {
        return Ok(());
    }
    // Their SIGCHLD is discarded (default action, not blocked): the
    // dumped pending signals are the program's, no more.
    // SAFETY: the default action installs no handler.
    let _ = unsafe { signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
    let _ = signal::sigprocmask(
        SigmaskHow::SIG_UNBLOCK,
        Some(&SigSet::from(Signal::SIGCHLD)),
        None,
    );
    let exact = r.tree.len() > 1;
    for z in zombies {
        let Some(pid) = fork_as(&r.privileges, z.pid, exact)? else {
            end_as(z)
        };
        raw(wait_exited(pid), &format!("exited child {}", z.pid))?;
    }
    Ok(())
}

/// Waits for the child `pid` to end, leaving it a zombie (`waitid()` with
/// `WNOWAIT`). Not nix's `waitid()`: it refuses a child ended by a signal
/// it has no name for (a real-time one), which a zombie may have been.
fn wait_exited(pid: Pid) -> libc::c_long {
    // SAFETY: all-zero is a valid siginfo_t; waitid() fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our child, writing only into `info`.
    let ret = unsafe {
        libc::waitid(
            libc::P_PID,
            pid.as_raw() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    ret.into()
}

/// In a forked exited child: ends with `z`'s exit code or by its signal
/// (without a core file). The signal may be a real-time one, which nix's
/// `Signal` cannot name: hence the raw system calls.
fn end_as(z: &Zombie) -> ! {
    if let Err(sig) = z.outcome() {
        let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
        let default = KernelSigaction {
            handler: libc::SIG_DFL as u64,
            ..Default::default()
        };
        signals::set_action(sig as libc::c_long, &default);
        // SAFETY: raw system calls on this process alone, with valid
        // arguments; nothing of ld-chpox runs after them.
        unsafe {
            let all = u64::MAX;
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_UNBLOCK,
                &all,
                0usize,
                8usize,
            );
            libc::syscall(
                libc::SYS_kill,
                std::process::id() as libc::c_long,
                sig as libc::c_long,
            );
        }
        exit_now(128 + sig as i32)
    }
    exit_now(z.outcome().unwrap_or(0) as i32)
}
