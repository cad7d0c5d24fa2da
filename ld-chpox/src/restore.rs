// SPDX-License-Identifier: GPL-2.0

//! Restoring one process. ld-chpox forks; the child rebuilds what user
//! space can (files, cwd, umask, signal dispositions, alternate stack,
//! pending signals, the vDSO's place, the FPU state) and then writes
//! `restore` to /proc/chpox, which replaces its memory and registers with
//! the dump's and returns into the restored program. The parent waits and
//! exits as the program does.

use chpox_abi::dump::{
    decode_files, decode_vmas, file_kind, vma_flags, Dump, ProcessInfo, SectionKind, SignalState,
};
use chpox_abi::registration::{Command, Sink, PROC_PATH};
use nix::libc;
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;

/// Environment variable that turns off glibc's rseq registration: the
/// restored program's own registration lives in its memory, and ld-chpox's
/// must not be left pointing into memory that is about to change.
pub const NO_RSEQ: (&str, &str) = ("GLIBC_TUNABLES", "glibc.pthread.rseq=0");

/// Everything the child needs, taken out of the dump before forking.
struct Plan<'a> {
    dump: &'a Dump<'a>,
    info: ProcessInfo,
    cwd: &'a [u8],
}

fn raw(ret: libc::c_long, what: &str) -> Result<libc::c_long, String> {
    if ret < 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("{what}: {e}"));
    }
    Ok(ret)
}

/// Reopens the dumped descriptors at their numbers, and closes every other
/// descriptor but `keep`.
fn restore_files(dump: &Dump<'_>, keep: &[i32]) -> Result<(), String> {
    let files = dump
        .only(0, SectionKind::Files)
        .and_then(|s| decode_files(s.payload))
        .map_err(|e| e.to_string())?;
    let mut wanted = Vec::new();
    for f in files {
        let fd = f.fd as i32;
        wanted.push(fd);
        let path = String::from_utf8_lossy(f.path);
        match f.kind {
            // A terminal or a pipe on a standard stream: the restored
            // program gets ld-chpox's own (its terminal, its pipeline).
            file_kind::TTY | file_kind::PIPE | file_kind::SOCKET if fd <= 2 => {
                // SAFETY: fcntl F_GETFD only checks the descriptor.
                if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                    return Err(format!(
                        "fd {fd} ({path}) was a standard stream, ld-chpox has none there"
                    ));
                }
            }
            file_kind::TTY => {
                // SAFETY: plain dup2 of our standard input, a terminal.
                if unsafe { libc::isatty(0) } != 1 || unsafe { libc::dup2(0, fd) } < 0 {
                    return Err(format!(
                        "fd {fd} was the terminal {path}, ld-chpox has no terminal"
                    ));
                }
            }
            file_kind::REGULAR | file_kind::DIRECTORY | file_kind::CHAR => {
                let c = CString::new(f.path).map_err(|_| format!("fd {fd}: bad path"))?;
                let flags = f.flags as i32 & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC);
                // SAFETY: `c` is a NUL-terminated path.
                let opened = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
                raw(opened.into(), &format!("cannot reopen fd {fd} ({path})"))?;
                if opened != fd {
                    // SAFETY: plain descriptor calls on descriptors we own.
                    unsafe {
                        if libc::dup2(opened, fd) < 0 {
                            libc::close(opened);
                            return Err(format!(
                                "fd {fd}: dup2: {}",
                                std::io::Error::last_os_error()
                            ));
                        }
                        libc::close(opened);
                    }
                }
                // SAFETY: as above.
                unsafe {
                    libc::fcntl(
                        fd,
                        libc::F_SETFD,
                        if f.cloexec { libc::FD_CLOEXEC } else { 0 },
                    );
                    if f.kind == file_kind::REGULAR
                        && libc::lseek(fd, f.pos as i64, libc::SEEK_SET) < 0
                    {
                        return Err(format!("fd {fd} ({path}): cannot seek to {}", f.pos));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "fd {fd} ({path}) is a {} that cannot be restored yet",
                    match f.kind {
                        file_kind::PIPE => "pipe",
                        file_kind::SOCKET => "socket",
                        _ => "special file",
                    }
                ))
            }
        }
    }
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("/proc/self/fd: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if !wanted.contains(&fd) && !keep.contains(&fd) {
            // SAFETY: closing a descriptor we do not restore.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// `struct sigaction` as the kernel takes it (`rt_sigaction`), so that the
/// dumped restorer is kept (glibc's wrapper would put its own).
#[repr(C)]
struct KernelSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

fn restore_signals(dump: &Dump<'_>) -> Result<(), String> {
    let payload = dump
        .only(0, SectionKind::Signals)
        .map_err(|e| e.to_string())?
        .payload;
    let (state, queued) = SignalState::decode(payload).map_err(|e| e.to_string())?;
    // Everything stays blocked until the module installs the dumped mask.
    signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None)
        .map_err(|e| format!("sigprocmask: {e}"))?;
    for (i, a) in state.actions.iter().enumerate() {
        let sig = i as libc::c_long + 1;
        if sig == libc::SIGKILL as libc::c_long || sig == libc::SIGSTOP as libc::c_long {
            continue;
        }
        let act = KernelSigaction {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        };
        // SAFETY: the kernel's rt_sigaction with a valid struct; no handler
        // can run, every signal is blocked.
        raw(
            unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &act, 0usize, 8usize) },
            &format!("signal {sig}"),
        )?;
    }
    let [sp, size, flags] = state.altstack;
    if size != 0 && flags & libc::SS_DISABLE as u64 == 0 {
        let ss = libc::stack_t {
            ss_sp: sp as *mut libc::c_void,
            ss_flags: (flags as i32) & !libc::SS_ONSTACK,
            ss_size: size as usize,
        };
        // SAFETY: the kernel only records the values.
        raw(
            unsafe { libc::syscall(libc::SYS_sigaltstack, &ss, 0usize) },
            "sigaltstack",
        )?;
    }
    // Pending signals: queued again with their siginfo, to ourselves.
    let pid = std::process::id() as libc::c_long;
    let mut covered = 0u64;
    for q in queued {
        let signo =
            i32::from_le_bytes([q.info[0], q.info[1], q.info[2], q.info[3]]) as libc::c_long;
        covered |= 1 << (signo - 1);
        let ret = if q.shared {
            // SAFETY: a 128-byte siginfo for ourselves.
            unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, signo, q.info.as_ptr()) }
        } else {
            // SAFETY: as above; the only thread's tid is the pid.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_tgsigqueueinfo,
                    pid,
                    pid,
                    signo,
                    q.info.as_ptr(),
                )
            }
        };
        raw(ret, &format!("re-queue pending signal {signo}"))?;
    }
    for sig in 1..=64i32 {
        if (state.pending | state.shared_pending) & !covered & (1 << (sig - 1)) != 0 {
            // SAFETY: sends a blocked signal to ourselves.
            raw(
                unsafe { libc::syscall(libc::SYS_tgkill, pid, pid, sig) },
                "re-raise pending signal",
            )?;
        }
    }
    Ok(())
}

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
fn move_vdso(dump: &Dump<'_>) -> Result<(), String> {
    let vmas = dump
        .only(0, SectionKind::Vmas)
        .and_then(|s| decode_vmas(s.payload))
        .map_err(|e| e.to_string())?;
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
            return Err(format!("the dumped vDSO's place ({lo:#x}-{hi:#x}) is taken in ld-chpox ({l}); run ld-chpox again"));
        }
    }
    // From here until the restore, nothing may call into the vDSO.
    // SAFETY: unmapping our own vDSO, which nothing uses any more.
    unsafe {
        libc::munmap(
            own_vvar.0 as *mut libc::c_void,
            (own_vvar.1 - own_vvar.0) as usize,
        );
        libc::munmap(
            own_vdso.0 as *mut libc::c_void,
            (own_vdso.1 - own_vdso.0) as usize,
        );
    }
    // The address is that of the whole block, vvar pages first.
    const ARCH_MAP_VDSO_64: libc::c_long = 0x2003;
    // SAFETY: asks the kernel to map the vDSO at the given address.
    raw(
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, lo) },
        "arch_prctl(ARCH_MAP_VDSO_64)",
    )?;
    if own_area("[vdso]") != Some(vdso) {
        return Err("the kernel put the vDSO elsewhere than asked".into());
    }
    Ok(())
}

/// A 64-byte aligned XSAVE area.
#[repr(C, align(64))]
struct XsaveArea([u8; 64 * 1024]);

/// Checks the dumped FPU image against this CPU and copies it into an
/// aligned area, so that XRSTOR cannot fault.
fn fpu_image(dump: &Dump<'_>) -> Result<Box<XsaveArea>, String> {
    let img = dump
        .only(0, SectionKind::Fpu)
        .map_err(|e| e.to_string())?
        .payload;
    let u32_at = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap_or_default());
    let u64_at = |o: usize| u64::from_le_bytes(img[o..o + 8].try_into().unwrap_or_default());
    let (mxcsr, mxcsr_mask) = (u32_at(24), u32_at(28));
    let mask = if mxcsr_mask == 0 { 0xffbf } else { mxcsr_mask };
    if mxcsr & !mask != 0 {
        return Err(format!("FPU state has an invalid MXCSR {mxcsr:#x}"));
    }
    let (xstate_bv, xcomp_bv) = (u64_at(512), u64_at(520));
    // SAFETY: XGETBV(0) is allowed in user mode when the OS uses XSAVE,
    // which Linux on any CPU with AVX does (and the dump has an XSAVE image).
    let xcr0 = unsafe { core::arch::x86_64::_xgetbv(0) };
    if xstate_bv & !xcr0 != 0 || xcomp_bv != 0 {
        return Err(format!(
            "FPU state uses features {xstate_bv:#x} this CPU does not enable ({xcr0:#x})"
        ));
    }
    let mut area = Box::new(XsaveArea([0; 64 * 1024]));
    area.0[..img.len()].copy_from_slice(img);
    Ok(area)
}

struct Bytes(Vec<u8>);

impl Sink for Bytes {
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// The child: becomes the dumped process, or returns why not.
fn become_dumped(plan: &Plan<'_>, dump_path: &Path) -> String {
    let result = (|| -> Result<(), String> {
        let max_fd = decode_files(
            plan.dump
                .only(0, SectionKind::Files)
                .map_err(|e| e.to_string())?
                .payload,
        )
        .map_err(|e| e.to_string())?
        .map(|f| f.fd as i32)
        .max()
        .unwrap_or(2);
        let high = |file: std::fs::File| -> Result<i32, String> {
            // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor we own.
            let fd = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, max_fd + 1) };
            raw(fd.into(), "fcntl(F_DUPFD)").map(|fd| fd as i32)
        };
        let dump_fd = high(
            std::fs::File::open(dump_path).map_err(|e| format!("{}: {e}", dump_path.display()))?,
        )?;
        let control = std::fs::OpenOptions::new()
            .write(true)
            .open(PROC_PATH)
            .map_err(|e| {
                format!("{PROC_PATH}: {e} (is the chpox module loaded? run 'modprobe chpox')")
            })?;
        let control_fd = high(control)?;
        restore_files(plan.dump, &[dump_fd, control_fd])?;
        let cwd = CString::new(plan.cwd).map_err(|_| "bad cwd".to_string())?;
        // SAFETY: plain system calls with a valid path.
        unsafe {
            if libc::chdir(cwd.as_ptr()) < 0 {
                return Err(format!(
                    "cannot enter {}: {}",
                    String::from_utf8_lossy(plan.cwd),
                    std::io::Error::last_os_error()
                ));
            }
            libc::umask(plan.info.umask);
        }
        restore_signals(plan.dump)?;
        let fpu = fpu_image(plan.dump)?;
        let mut command = Bytes(Vec::new());
        Command::Restore {
            dump_fd: dump_fd as u32,
            control_fd: control_fd as u32,
        }
        .encode(&mut command);
        move_vdso(plan.dump)?;
        // The last act: load the FPU state and ask the module for the rest.
        // On success the write() returns into the restored program.
        let ret: i64;
        // SAFETY: XRSTOR (mask EDX:EAX all ones) of a checked image in a
        // 64-byte aligned area, then write(2). rax and rdx are written
        // before the inputs are all used, hence early outputs.
        unsafe {
            core::arch::asm!(
                "mov eax, -1",
                "mov edx, -1",
                "xrstor64 [{area}]",
                "mov eax, 1",
                "mov rdx, {len}",
                "syscall",
                area = in(reg) fpu.0.as_ptr(),
                len = in(reg) command.0.len(),
                in("rdi") control_fd as i64,
                in("rsi") command.0.as_ptr(),
                out("rax") ret,
                out("rdx") _,
                clobber_abi("C"),
            );
        }
        // Still here: the module refused before touching anything. The FPU
        // state is the program's now, which matters not for reporting.
        Err(format!(
            "the module refused the restore: {}",
            std::io::Error::from_raw_os_error((-ret) as i32)
        ))
    })();
    match result {
        Ok(()) => "restore returned unexpectedly".into(),
        Err(e) => e,
    }
}

/// Raises the re-exec guard: glibc registers rseq at start-up unless told not
/// to, so ld-chpox runs itself again with the tunable set.
pub fn ensure_no_rseq() -> Result<(), String> {
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
    Err(format!("cannot run myself again: {err}"))
}

/// Restores the (validated) dump at `path` and exits as the restored
/// program does.
pub fn run(path: &Path, dump: &Dump<'_>) -> ExitCode {
    if dump.header.processes != 1 {
        eprintln!(
            "ld-chpox: {}: dumps of several processes cannot be restored yet",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let plan = match dump
        .only(0, SectionKind::Process)
        .and_then(|s| ProcessInfo::decode(s.payload))
    {
        Ok((info, cwd, _)) => Plan { dump, info, cwd },
        Err(e) => {
            eprintln!("ld-chpox: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    // SAFETY: single-threaded here; the child only makes system calls and
    // uses memory that fork() copied.
    match unsafe { fork() } {
        Err(e) => {
            eprintln!("ld-chpox: fork: {e}");
            ExitCode::FAILURE
        }
        Ok(ForkResult::Child) => {
            let why = become_dumped(&plan, path);
            eprintln!("ld-chpox: cannot restore {}: {why}", path.display());
            // SAFETY: leaves without running ld-chpox's exit handlers.
            unsafe { libc::_exit(1) }
        }
        Ok(ForkResult::Parent { child }) => {
            // The program answers the terminal's signals; ld-chpox waits.
            for sig in [Signal::SIGINT, Signal::SIGQUIT] {
                // SAFETY: ignoring a signal installs no handler.
                let _ = unsafe { signal::signal(sig, SigHandler::SigIgn) };
            }
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => return ExitCode::from(code as u8),
                    Ok(WaitStatus::Signaled(_, sig, _)) => die_like(sig),
                    Ok(_) => continue,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        eprintln!("ld-chpox: waitpid: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
}

/// Ends ld-chpox by the signal that ended the restored program, so that a
/// shell sees the same result (without a core dump of ld-chpox).
fn die_like(sig: Signal) -> ! {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on ourselves.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        let _ = signal::signal(sig, SigHandler::SigDfl);
        let _ = signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&SigSet::from(sig)), None);
        libc::raise(sig as i32);
        libc::_exit(128 + sig as i32)
    }
}
