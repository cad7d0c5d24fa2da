// SPDX-License-Identifier: GPL-2.0

//! The last part of becoming a dumped process, once its children are
//! forked: descriptors, cwd, umask, signal state, the vDSO's place, its
//! other threads, the FPU state, and then the `restore` write to
//! /proc/chpox, which replaces its memory and registers with the dump's and
//! returns into the program.

use super::threads::{self, ThreadStart};
use super::Error;
use super::{dup_high, exit_now, files, fpu, lazy, raw, signals, Restorer};
use chpox_abi::dump::{decode_vmas, vma_flags, Dump, SectionKind};
use chpox_abi::registration::{Command, Sink, PROC_PATH};
use nix::libc;
use nix::sys::mman::munmap;
use nix::sys::stat::{umask, Mode};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
use std::ptr::NonNull;

/// Environment variable that turns off glibc's rseq registration: the
/// restored program's own registration lives in its memory, and ld-chpox's
/// must not be left pointing into memory that is about to change.
pub const NO_RSEQ: (&str, &str) = ("GLIBC_TUNABLES", "glibc.pthread.rseq=0");

/// The first and last address of the area named `name` in our own maps.
fn own_area(name: &str) -> Option<(u64, u64)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find(|l| l.ends_with(name)).and_then(|l| {
        let (range, _) = l.split_once(' ')?;
        let (a, b) = range.split_once('-')?;
        Some((
            u64::from_str_radix(a, 16).ok()?,
            u64::from_str_radix(b, 16).ok()?,
        ))
    })
}

/// Puts our vDSO where the dumped process had it: the program keeps
/// pointers into it.
fn move_vdso(dump: &Dump<'_>, process: u32) -> Result<(), Error> {
    let vmas = dump
        .only(process, SectionKind::Vmas)
        .and_then(|s| decode_vmas(s.payload))?;
    let find = |flag| {
        vmas.clone()
            .find(|v| v.flags & flag != 0)
            .map(|v| (v.start, v.end))
    };
    let (Some(vdso), Some(vvar)) = (find(vma_flags::VDSO), find(vma_flags::VVAR)) else {
        return Ok(());
    };
    let (Some(own_vdso), Some(own_vvar)) = (own_area("[vdso]"), own_area("[vvar]")) else {
        return Err("ld-chpox has no vDSO to move".into());
    };
    if own_vdso == vdso && own_vvar == vvar {
        return Ok(());
    }
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| e.to_string())?;
    let (lo, hi) = (vvar.0.min(vdso.0), vvar.1.max(vdso.1));
    for l in maps
        .lines()
        .filter(|l| !l.ends_with("[vdso]") && !l.ends_with("[vvar]"))
    {
        let range = l.split(' ').next().unwrap_or("");
        let (a, b) = range.split_once('-').unwrap_or(("0", "0"));
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap_or(0),
            u64::from_str_radix(b, 16).unwrap_or(0),
        );
        if a < hi && lo < b {
            return Err(format!("the dumped vDSO's place ({lo:#x}-{hi:#x}) is taken in ld-chpox ({l}); run ld-chpox again").into());
        }
    }
    // From here until the restore, nothing may call into the vDSO.
    for (start, end) in [own_vvar, own_vdso] {
        if let Some(addr) = NonNull::new(start as *mut libc::c_void) {
            // SAFETY: unmapping our own vDSO, which nothing uses any more.
            let _ = unsafe { munmap(addr, (end - start) as usize) };
        }
    }
    map_vdso_at(lo)?;
    if own_area("[vdso]") != Some(vdso) {
        return Err("the kernel put the vDSO elsewhere than asked".into());
    }
    Ok(())
}

/// Maps the vDSO block (vvar pages first) at `addr`: `arch_prctl()`, which
/// nix does not offer.
fn map_vdso_at(addr: u64) -> Result<(), Error> {
    const ARCH_MAP_VDSO_64: libc::c_long = 0x2003;
    // SAFETY: asks the kernel to map the vDSO at the given address, where
    // nothing of ours is mapped.
    raw(
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, addr) },
        "arch_prctl(ARCH_MAP_VDSO_64)",
    )?;
    Ok(())
}

struct Bytes(Vec<u8>);

impl Sink for Bytes {
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// Reports `why` to ld-chpox and ends this process of the tree.
pub(crate) fn fail(r: &Restorer<'_>, why: Error) -> ! {
    if r.barrier.passed() {
        eprintln!("ld-chpox: cannot restore {}: {why}", r.path.display());
    } else {
        r.barrier.ready_and_wait(Err(why));
    }
    // Leaves without running ld-chpox's exit handlers.
    exit_now(1)
}

/// The `restore` command of thread `thread` of process `process`; with the
/// page server's socket `lazy_fd` for thread 0 of a lazy restore.
fn restore_command(
    dump_fd: i32,
    control_fd: i32,
    process: u32,
    thread: u32,
    lazy_fd: Option<i32>,
) -> Vec<u8> {
    let mut command = Bytes(Vec::new());
    Command::Restore {
        dump_fd: dump_fd as u32,
        control_fd: control_fd as u32,
        process,
        thread,
        lazy_fd: lazy_fd.map(|fd| fd as u32),
    }
    .encode(&mut command);
    command.0
}

/// Becomes process `index` of the dump, or returns why not.
///
/// The threads: this one becomes thread 0, the leader. The others are
/// started once the shared state (descriptors, cwd, dispositions, the
/// process's pending signals) is in place and are ready, each in its own
/// restore write, before this process reports ready at the barrier
/// ([`threads`]). Thread 0 sets what it has of its own last, right before
/// its own write.
pub(crate) fn become_dumped(r: &Restorer<'_>, index: usize) -> Error {
    let process = index as u32;
    let dump = r.dump;
    let info = &r.tree.get(index).info;
    let result = (|| -> Result<(), Error> {
        // The low descriptor of `file` is closed once it is copied.
        let high = |file: std::fs::File| dup_high(file.as_fd(), r.base);
        // The very file ld-chpox checked and whose owner it went by (the
        // module reads it at given offsets: sharing it is harmless).
        let dump_copy = dup_high(r.file.as_fd(), r.base)?;
        // One open file of /proc/chpox for each thread: see
        // threads::RESTORE_SYSCALL.
        let open_control = || {
            let control = std::fs::OpenOptions::new()
                .write(true)
                .open(PROC_PATH)
                .map_err(|e| {
                    format!("{PROC_PATH}: {e} (is the chpox module loaded? run 'modprobe chpox')")
                })?;
            high(control)
        };
        let control_copy = open_control()?;
        let [ready, go] = r.barrier.member_fds();
        let (dump_fd, control_fd) = (dump_copy.as_raw_fd(), control_copy.as_raw_fd());
        let lazy_fd = r.lazy.as_ref().map(|links| links.member_fd(index));
        if let Some(links) = &r.lazy {
            lazy::hand_over_userfault(links, index)?;
        }
        let keep = [dump_fd, control_fd, ready, go, lazy_fd.unwrap_or(-1)];
        files::install(dump, process, &r.table, &keep)?;
        let cwd = r.tree.get(index).cwd;
        let cwd_c = CString::new(cwd).map_err(|_| "bad cwd".to_string())?;
        if let Err(e) = nix::unistd::chdir(cwd_c.as_c_str()) {
            return Err(format!(
                "pid {}: cannot enter {}: {}",
                info.pid,
                String::from_utf8_lossy(cwd),
                std::io::Error::from(e)
            )
            .into());
        }
        umask(Mode::from_bits_retain(info.umask));
        // Blocks every signal here, and so in every thread started below.
        signals::restore(dump, process)?;
        let leader = dump.thread(process, 0)?;
        let fpu = fpu::image(leader.xstate)?;
        let command = restore_command(dump_fd, control_fd, process, 0, lazy_fd);
        let leader_signals = signals::private(&leader)?;
        move_vdso(dump, process)?;

        let pid = std::process::id() as i32;
        let setting = threads::Setting {
            pid,
            control_fd,
            give_up_capabilities: r.privileges.any_to_give_up(),
        };
        let mut started = Vec::new();
        for (t, thread) in dump.threads(process).enumerate().skip(1) {
            // Kept open until the module closes it as the thread resumes.
            let control_fd = open_control()?.into_raw_fd();
            let command = restore_command(dump_fd, control_fd, process, t as u32, None);
            let setting = threads::Setting {
                control_fd,
                ..setting
            };
            let start = ThreadStart::prepare(&thread?, &setting, command)?;
            threads::spawn(start, &r.privileges)?;
            started.push(start);
        }
        // Starting the threads with their ids was the last use of the
        // capabilities kept for building the tree: none of them passes to
        // the restored program.
        r.privileges.give_up()?;
        signals::restore_private(pid, pid, &leader_signals)?;
        threads::wait_ready(&started)?;

        // Nothing after this point can fail in user space but thread 0's
        // own settings: wait for every other process of the tree to be as
        // far.
        if !r.barrier.ready_and_wait(Ok(())) {
            // The restore was called off; leave quietly (the threads
            // waiting in the kernel end with the process).
            exit_now(1)
        }
        threads::set_own_state(&leader.info)?;
        // The last act: load the FPU state and ask the module for the rest.
        // On success the write() returns into the restored program.
        let ret: i64;
        // SAFETY: XRSTOR (mask EDX:EAX all ones) of a checked image in a
        // 64-byte aligned area, then write(2) (threads::RESTORE_SYSCALL). rax and rdx are written before the
        // inputs are all used, hence early outputs.
        unsafe {
            core::arch::asm!(
                "mov eax, -1",
                "mov edx, -1",
                "xrstor64 [{area}]",
                "mov rax, {nr}",
                "mov rdx, {len}",
                "syscall",
                nr = in(reg) threads::RESTORE_SYSCALL,
                area = in(reg) fpu.0.as_ptr(),
                len = in(reg) command.len(),
                in("rdi") control_fd as i64,
                in("rsi") command.as_ptr(),
                out("rax") ret,
                out("rdx") _,
                clobber_abi("C"),
            );
        }
        // Still here: the module refused before touching anything. The FPU
        // state is the program's now, which matters not for reporting.
        threads::forget_own_state();
        let mut why = threads::refused(ret).to_string();
        for thread_refusal in threads::refusals(&started) {
            why += &format!("; {thread_refusal}");
        }
        Err(why.into())
    })();
    match result {
        Ok(()) => "restore returned unexpectedly".into(),
        Err(e) if dump.header.processes > 1 => Error::InProcess {
            pid: info.pid,
            source: Box::new(e),
        },
        Err(e) => e,
    }
}

/// Raises the re-exec guard: glibc registers rseq at start-up unless told not
/// to, so ld-chpox runs itself again with the tunable set.
pub fn ensure_no_rseq() -> Result<(), Error> {
    let current = std::env::var(NO_RSEQ.0).unwrap_or_default();
    if current.split(':').any(|t| t == NO_RSEQ.1) {
        return Ok(());
    }
    let value = if current.is_empty() {
        NO_RSEQ.1.to_string()
    } else {
        format!("{current}:{}", NO_RSEQ.1)
    };
    let err = std::os::unix::process::CommandExt::exec(
        std::process::Command::new("/proc/self/exe")
            .args(std::env::args_os().skip(1))
            .env(NO_RSEQ.0, value),
    );
    Err(format!("cannot run myself again: {err}").into())
}
