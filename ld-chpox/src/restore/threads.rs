// SPDX-License-Identifier: GPL-2.0

//! The threads of a multithreaded process.
//!
//! Thread 0 (the one ld-chpox runs in, which becomes the leader) starts
//! threads 1..n with `clone3()`, each with its dumped tid (`set_tid`). They
//! share thread 0's TLS and must run no Rust or libc code: each runs the
//! few instructions of [`clone_thread`], which make the system calls
//! thread 0 prepared for it in a [`ThreadStart`] (give up capabilities,
//! queue its own pending signals, alternate stack, robust list, name,
//! clear_child_tid), load its FPU image and write its own `restore` command
//! to /proc/chpox. The module holds each such write until thread 0's
//! arrives, rebuilds the address space once, and every thread returns
//! into the program with its own registers.
//!
//! A thread reports in its status word, which thread 0 polls: ready (it is
//! about to enter the kernel), or which call failed and with what error,
//! after which it ends. Everything a thread reads is leaked heap memory: it
//! must stay valid until the thread is in the kernel, whatever thread 0
//! does meanwhile (and the address space is replaced then anyway).

use super::capabilities::NoCapabilities;
use super::fpu::{self, XsaveArea, XSAVE_MAX};
use super::identity::Privileges;
use super::signals;
use super::tree::CloneArgs;
use super::{raw, Error};
use chpox_abi::dump::{Thread, ThreadInfo, ROBUST_LIST_HEAD_SIZE};
use nix::errno::Errno;
use nix::libc;
use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// One system call a starting thread makes, as its code reads it: the
/// number and the six arguments.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Call {
    nr: libc::c_long,
    args: [u64; 6],
}

/// Values of a thread's status word.
mod status {
    /// Still making its calls (or not yet running).
    pub(super) const STARTING: i64 = 0;
    /// Every call done: it is loading its FPU state and entering the
    /// kernel with its restore write.
    pub(super) const READY: i64 = 1;
    /// A call failed: `failed_call` says which, `error` with what; the
    /// thread has ended.
    pub(super) const CALL_FAILED: i64 = 2;
    /// The restore write returned (with `error`): the module refused it;
    /// the thread has ended.
    pub(super) const RESTORE_RETURNED: i64 = 3;
}

/// Everything a starting thread uses. The fields up to `xsave` are read
/// and written by [`clone_thread`]'s code at the offsets checked below;
/// the rest is what the calls point to.
#[repr(C, align(64))]
pub(crate) struct ThreadStart {
    /// One of [`status`]'s values, written by the thread.
    status: AtomicI64,
    /// Index of the call that failed, written before `status`.
    failed_call: AtomicI64,
    /// The negative errno of the failed call or the returned restore
    /// write, written before `status`.
    error: AtomicI64,
    calls: *const Call,
    call_count: u64,
    control_fd: i64,
    command: *const u8,
    command_len: u64,
    /// The thread's FPU image, 64-byte aligned for XRSTOR.
    xsave: XsaveArea,
    /// The thread's id: the dumped one.
    tid: i32,
    /// What each call of `owned_calls` does, for messages.
    names: Vec<String>,
    owned_calls: Vec<Call>,
    owned_command: Vec<u8>,
    /// The siginfos of the signals queued for the thread alone.
    infos: Vec<[u8; 128]>,
    altstack: libc::stack_t,
    /// The thread's name, NUL-terminated.
    comm: [u8; 17],
    no_capabilities: NoCapabilities,
}

// The offsets the code of `clone_thread` uses.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(ThreadStart, status) == 0);
    assert!(offset_of!(ThreadStart, failed_call) == 8);
    assert!(offset_of!(ThreadStart, error) == 16);
    assert!(offset_of!(ThreadStart, calls) == 24);
    assert!(offset_of!(ThreadStart, call_count) == 32);
    assert!(offset_of!(ThreadStart, control_fd) == 40);
    assert!(offset_of!(ThreadStart, command) == 48);
    assert!(offset_of!(ThreadStart, command_len) == 56);
    assert!(offset_of!(ThreadStart, xsave) == 64);
    assert!(size_of::<Call>() == 56);
    // And the system call numbers it has written out.
    assert!(RESTORE_SYSCALL == 1);
    assert!(libc::SYS_exit == 60);
    assert!(libc::SYS_set_tid_address == 218);
    assert!(libc::SYS_set_robust_list == 273);
    assert!(ROBUST_LIST_HEAD_SIZE == 24);
};

/// Size of the stack a thread gets: it uses none, but the kernel wants
/// one for a thread; it goes with ld-chpox's memory at the restore.
const STACK_SIZE: usize = 64 * 1024;
/// How long thread 0 waits for its threads to be ready, in polls of
/// [`POLL`] (no clock: ld-chpox's vDSO may be gone by then).
const POLLS: u32 = 10_000;
const POLL: Duration = Duration::from_millis(1);

/// The facts a thread's calls need besides its dumped state.
pub(crate) struct Setting {
    /// The process id, as the kernel knows it.
    pub(crate) pid: i32,
    /// The thread's own descriptor of /proc/chpox, which the restore
    /// command is written to (and the module closes).
    pub(crate) control_fd: i32,
    /// Whether the thread must give up the capabilities it inherits from
    /// thread 0 (which is still keeping them for `set_tid`).
    pub(crate) give_up_capabilities: bool,
}

impl ThreadStart {
    /// Prepares everything `thread` does to become itself, ending in the
    /// write of `command`. The memory is never freed.
    pub(crate) fn prepare(
        thread: &Thread<'_>,
        setting: &Setting,
        command: Vec<u8>,
    ) -> Result<&'static ThreadStart, Error> {
        let info = &thread.info;
        let private = signals::private(thread).map_err(|e| in_thread(info.tid, e))?;
        let altstack = signals::altstack(info.altstack);
        let mut start = Box::new(ThreadStart {
            status: AtomicI64::new(status::STARTING),
            failed_call: AtomicI64::new(0),
            error: AtomicI64::new(0),
            calls: std::ptr::null(),
            call_count: 0,
            control_fd: i64::from(setting.control_fd),
            command: std::ptr::null(),
            command_len: 0,
            xsave: XsaveArea([0; XSAVE_MAX]),
            tid: info.tid,
            names: Vec::new(),
            owned_calls: Vec::new(),
            owned_command: command,
            infos: private.queued.iter().map(|&(_, info)| info).collect(),
            altstack: altstack.unwrap_or(libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: 0,
                ss_size: 0,
            }),
            comm: [0; 17],
            no_capabilities: NoCapabilities::new(),
        });
        fpu::fill(&mut start.xsave, thread.xstate).map_err(|e| in_thread(info.tid, e))?;
        start.comm[..16].copy_from_slice(&info.comm);

        let (pid, tid) = (setting.pid as u64, info.tid as u64);
        let mut calls = Vec::new();
        let mut call = |name: String, nr: libc::c_long, args: &[u64]| {
            let mut all = [0u64; 6];
            all[..args.len()].copy_from_slice(args);
            calls.push((name, Call { nr, args: all }));
        };
        if setting.give_up_capabilities {
            // As thread 0's Privileges::give_up does for itself.
            call(
                "capset".into(),
                libc::SYS_capset,
                &start.no_capabilities.args(),
            );
            call(
                "prctl(PR_SET_KEEPCAPS, 0)".into(),
                libc::SYS_prctl,
                &[libc::PR_SET_KEEPCAPS as u64, 0],
            );
        }
        // The thread queues its own signals: the kernel lets only a thread
        // queue to itself a siginfo that looks sent by tgkill() or by the
        // kernel.
        for (&(signo, _), info) in private.queued.iter().zip(&start.infos) {
            call(
                format!("re-queue pending signal {signo}"),
                libc::SYS_rt_tgsigqueueinfo,
                &[pid, tid, signo as u64, info.as_ptr() as u64],
            );
        }
        for &sig in &private.raised {
            call(
                format!("re-raise pending signal {sig}"),
                libc::SYS_tgkill,
                &[pid, tid, sig as u64],
            );
        }
        if altstack.is_some() {
            call(
                "sigaltstack".into(),
                libc::SYS_sigaltstack,
                &[&start.altstack as *const libc::stack_t as u64, 0],
            );
        }
        // A new thread has no robust list and no clear_child_tid: only
        // those it had are set.
        if info.robust_list != 0 {
            call(
                "set_robust_list".into(),
                libc::SYS_set_robust_list,
                &[info.robust_list, info.robust_list_len],
            );
        }
        call(
            "prctl(PR_SET_NAME)".into(),
            libc::SYS_prctl,
            &[libc::PR_SET_NAME as u64, start.comm.as_ptr() as u64],
        );
        if info.clear_child_tid != 0 {
            call(
                "set_tid_address".into(),
                libc::SYS_set_tid_address,
                &[info.clear_child_tid],
            );
        }
        let (names, calls): (Vec<String>, Vec<Call>) = calls.into_iter().unzip();
        start.names = names;
        start.owned_calls = calls;
        // The buffers of the vectors stay where they are from now on.
        start.calls = start.owned_calls.as_ptr();
        start.call_count = start.owned_calls.len() as u64;
        start.command = start.owned_command.as_ptr();
        start.command_len = start.owned_command.len() as u64;
        Ok(Box::leak(start))
    }

    /// What the thread has reported: `Ok(true)` once ready, `Ok(false)`
    /// while starting, why it failed otherwise.
    fn outcome(&self) -> Result<bool, Error> {
        let errno = |e: i64| std::io::Error::from_raw_os_error(-e as i32);
        // Acquire: the thread writes `failed_call` and `error` before.
        match self.status.load(Ordering::Acquire) {
            status::STARTING => Ok(false),
            status::READY => Ok(true),
            status::CALL_FAILED => {
                let index = self.failed_call.load(Ordering::Relaxed) as usize;
                let name = self.names.get(index).map_or("?", String::as_str);
                let e = errno(self.error.load(Ordering::Relaxed));
                Err(in_thread(self.tid, Error::sys(name, e)))
            }
            status::RESTORE_RETURNED => Err(in_thread(
                self.tid,
                refused(self.error.load(Ordering::Relaxed)),
            )),
            other => Err(in_thread(
                self.tid,
                format!("unknown status {other}").into(),
            )),
        }
    }
}

/// `source`, said of thread `tid`.
fn in_thread(tid: i32, source: Error) -> Error {
    Error::InThread {
        tid,
        source: Box::new(source),
    }
}

/// What a restore write that returned `ret` means.
pub(crate) fn refused(ret: i64) -> Error {
    if ret >= 0 {
        return "the restore write returned unexpectedly".into();
    }
    Error::sys(
        "the module refused the restore",
        std::io::Error::from_raw_os_error(-ret as i32),
    )
}

/// The `clone3()` arguments of a thread of ours, on `stack`, with id
/// `tid` (`set_tid`, one element) if given.
fn clone_args(stack: *mut libc::c_void, set_tid: Option<&[libc::pid_t; 1]>) -> CloneArgs {
    let flags = libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM;
    CloneArgs {
        flags: flags as u64,
        // A thread sends no signal when it ends.
        exit_signal: 0,
        stack: stack as u64,
        stack_size: STACK_SIZE as u64,
        set_tid: set_tid.map_or(0, |t| t.as_ptr() as u64),
        set_tid_size: u64::from(set_tid.is_some()),
        ..Default::default()
    }
}

/// A fresh stack for a thread, never unmapped.
fn new_stack() -> Result<*mut libc::c_void, Error> {
    let len = NonZeroUsize::new(STACK_SIZE).ok_or("empty stack")?;
    // SAFETY: a new anonymous mapping, which nothing else uses.
    let stack = unsafe {
        mmap_anonymous(
            None,
            len,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_PRIVATE | MapFlags::MAP_STACK,
        )
    };
    Ok(super::sys(stack, "mmap of a thread stack")?.as_ptr())
}

/// Starts the thread of `start` with its dumped id; `set_tid` needs the
/// pid right `privileges` keep.
pub(crate) fn spawn(start: &'static ThreadStart, privileges: &Privileges) -> Result<(), Error> {
    let tid = [start.tid];
    let args = clone_args(new_stack()?, Some(&tid));
    let (ret, e) = privileges.with_pid_right(|| clone_thread(&args, start))?;
    if ret < 0 {
        let hint = match Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
            Errno::EPERM => " (needs CAP_CHECKPOINT_RESTORE: run ld-chpox as root)",
            Errno::EEXIST => " (taken by another process)",
            _ => "",
        };
        return Err(in_thread(
            start.tid,
            format!("cannot give back thread id {}: {e}{hint}", start.tid).into(),
        ));
    }
    Ok(())
}

/// The system call the restore command goes out with. Each thread writes
/// to an open file of /proc/chpox of its own: `write()` on a file shared
/// by threads holds the file's position lock for the whole call, so
/// threads waiting inside their restore for thread 0 would keep thread 0's
/// own restore out (and the control file, a seq_file, takes no `pwrite()`).
pub(crate) const RESTORE_SYSCALL: libc::c_long = libc::SYS_write;

/// `clone3()` of a thread that runs `start`'s calls, then its restore;
/// returns the new thread's id (or -1, errno set). The new thread never
/// leaves the assembly below: it shares our TLS and stack-less state, so
/// it runs nothing else.
fn clone_thread(args: &CloneArgs, start: &'static ThreadStart) -> libc::c_long {
    let mut ret: libc::c_long = libc::SYS_clone3;
    // SAFETY: in the caller, this is one system call that only reads
    // `args` (rcx and r11 are what `syscall` overwrites). The new thread
    // starts on its own stack with the same registers, r12 pointing at
    // `start`, which is leaked and so valid as long as it runs; it blocks
    // every signal (inherited), touches no memory but `start`'s and what
    // its calls were prepared to read, and ends in SYS_exit or in the
    // restore, never coming back to compiled code.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // The new thread. r13: the next call, r15: its index.
            "mov r13, [r12 + 24]",
            "xor r15d, r15d",
            "3:",
            "cmp r15, [r12 + 32]",
            "jae 4f",
            "mov rax, [r13]",
            "mov rdi, [r13 + 8]",
            "mov rsi, [r13 + 16]",
            "mov rdx, [r13 + 24]",
            "mov r10, [r13 + 32]",
            "mov r8, [r13 + 40]",
            "mov r9, [r13 + 48]",
            "syscall",
            // -4095..-1: an error.
            "cmp rax, -4095",
            "jae 5f",
            "add r13, 56",
            "inc r15",
            "jmp 3b",
            // A call failed: error and index before the status.
            "5:",
            "mov [r12 + 16], rax",
            "mov [r12 + 8], r15",
            "mov qword ptr [r12], 2",
            "jmp 6f",
            // Every call done: ready, FPU state, restore write.
            "4:",
            "mov qword ptr [r12], 1",
            "mov eax, -1",
            "mov edx, -1",
            "xrstor64 [r12 + 64]",
            // RESTORE_SYSCALL, to the thread's own control file.
            "mov eax, 1",
            "mov rdi, [r12 + 40]",
            "mov rsi, [r12 + 48]",
            "mov rdx, [r12 + 56]",
            "syscall",
            "mov [r12 + 16], rax",
            "mov qword ptr [r12], 3",
            // Ending: first unregister clear_child_tid and the robust
            // list, which point into the program's memory, not ours.
            "6:",
            "xor edi, edi",
            "mov eax, 218",
            "syscall",
            "xor edi, edi",
            "mov esi, 24",
            "mov eax, 273",
            "syscall",
            "xor edi, edi",
            "mov eax, 60",
            "syscall",
            "ud2",
            "2:",
            inout("rax") ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") start as *const ThreadStart,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        Errno::set_raw(-ret as i32);
        return -1;
    }
    ret
}

/// Waits until every thread of `starts` is ready, or says which failed
/// and how (or which is not ready after 10 s).
pub(crate) fn wait_ready(starts: &[&'static ThreadStart]) -> Result<(), Error> {
    for _ in 0..POLLS {
        let mut all_ready = true;
        for start in starts {
            all_ready &= start.outcome()?;
        }
        if all_ready {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
    let late = starts
        .iter()
        .find(|s| !matches!(s.outcome(), Ok(true)))
        .map_or(0, |s| s.tid);
    Err(in_thread(late, "not ready after 10 s".into()))
}

/// Why the restore failed in the threads of `starts`, if one says: the
/// module refuses the leader's write too then.
pub(crate) fn refusals(starts: &[&'static ThreadStart]) -> Vec<Error> {
    starts.iter().filter_map(|s| s.outcome().err()).collect()
}

/// In thread 0, right before its restore write: the state it has of its
/// own, as the other threads set it in [`clone_thread`]. The robust list
/// and clear_child_tid are set even if none was dumped: ld-chpox's own
/// glibc registered them, pointing into memory about to be replaced.
pub(crate) fn set_own_state(info: &ThreadInfo) -> Result<(), Error> {
    signals::restore_altstack(info.altstack)?;
    let comm_end = info.comm.iter().position(|&b| b == 0).unwrap_or(16);
    let mut comm = [0u8; 17];
    comm[..comm_end].copy_from_slice(&info.comm[..comm_end]);
    let name = CStr::from_bytes_until_nul(&comm).map_err(|_| "thread name")?;
    super::sys(nix::sys::prctl::set_name(name), "prctl(PR_SET_NAME)")?;
    set_robust_list(info.robust_list)?;
    // SAFETY: records the address the kernel clears when this thread
    // ends; the restored program's (or none).
    unsafe { libc::syscall(libc::SYS_set_tid_address, info.clear_child_tid) };
    Ok(())
}

/// Undoes [`set_own_state`]'s robust list and clear_child_tid after a
/// refused restore: they point into the program's memory, not ours, and
/// the kernel would use them as this process ends.
pub(crate) fn forget_own_state() {
    let _ = set_robust_list(0);
    // SAFETY: the kernel clears nothing when this thread ends.
    unsafe { libc::syscall(libc::SYS_set_tid_address, 0usize) };
}

/// `set_robust_list()` of this thread (`head` 0: none).
fn set_robust_list(head: u64) -> Result<(), Error> {
    // SAFETY: the kernel only records the address; it reads the list
    // when the thread ends.
    let ret = unsafe { libc::syscall(libc::SYS_set_robust_list, head, ROBUST_LIST_HEAD_SIZE) };
    raw(ret, "set_robust_list").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// A call that cannot fail.
    const GETPID: Call = Call {
        nr: libc::SYS_getpid,
        args: [0; 6],
    };

    /// A file the "restore write" goes to, already unlinked.
    fn scratch() -> std::fs::File {
        use std::sync::atomic::AtomicU32;
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ld-chpox-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    /// What the thread wrote to `file`.
    fn written(file: &std::fs::File) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let mut got = [0u8; 64];
        let n = file.read_at(&mut got, 0).unwrap();
        got[..n].to_vec()
    }

    /// A thread that becomes nothing: `tid` is only a label, the calls are
    /// `calls`, the "restore write" goes to a scratch file.
    fn start_for_test(calls: &[(&str, Call)], fd: i32, command: &[u8]) -> &'static ThreadStart {
        let mut start = Box::new(ThreadStart {
            status: AtomicI64::new(status::STARTING),
            failed_call: AtomicI64::new(0),
            error: AtomicI64::new(0),
            calls: std::ptr::null(),
            call_count: 0,
            control_fd: i64::from(fd),
            command: std::ptr::null(),
            command_len: 0,
            xsave: XsaveArea([0; XSAVE_MAX]),
            tid: 4242,
            names: calls.iter().map(|(n, _)| n.to_string()).collect(),
            owned_calls: calls.iter().map(|&(_, c)| c).collect(),
            owned_command: command.to_vec(),
            infos: Vec::new(),
            altstack: libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: 0,
                ss_size: 0,
            },
            comm: [0; 17],
            no_capabilities: NoCapabilities::new(),
        });
        // An image of every component in its initial state, with the
        // MXCSR every thread starts with: harmless to load.
        let mut image = [0u8; fpu::XSAVE_MIN];
        image[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        fpu::fill(&mut start.xsave, &image).unwrap();
        start.calls = start.owned_calls.as_ptr();
        start.call_count = start.owned_calls.len() as u64;
        start.command = start.owned_command.as_ptr();
        start.command_len = start.owned_command.len() as u64;
        Box::leak(start)
    }

    fn run(start: &'static ThreadStart) {
        let args = clone_args(new_stack().unwrap(), None);
        assert!(
            clone_thread(&args, start) > 0,
            "{}",
            std::io::Error::last_os_error()
        );
    }

    /// Waits for the thread to have ended, as `status` says it has.
    fn wait_done(start: &ThreadStart) -> i64 {
        for _ in 0..POLLS {
            match start.status.load(Ordering::Acquire) {
                status::STARTING | status::READY => std::thread::sleep(POLL),
                done => return done,
            }
        }
        panic!("the thread never finished");
    }

    #[test]
    fn a_thread_makes_its_calls_then_writes_its_command() {
        let w = scratch();
        let start = start_for_test(
            &[("getpid", GETPID), ("getpid", GETPID)],
            w.as_raw_fd(),
            b"restore 3 4 0 1\n",
        );
        run(start);
        // The write to a file returns, which a restore write never does.
        assert_eq!(wait_done(start), status::RESTORE_RETURNED);
        assert_eq!(start.error.load(Ordering::Relaxed), 16);
        assert_eq!(written(&w), b"restore 3 4 0 1\n");
        assert!(refusals(&[start])[0]
            .to_string()
            .contains("thread 4242: the restore write returned unexpectedly"));
    }

    #[test]
    fn a_failed_call_is_reported_with_its_name_and_error() {
        let w = scratch();
        let bad_robust_list = Call {
            nr: libc::SYS_set_robust_list,
            args: [0, 1, 0, 0, 0, 0],
        };
        let start = start_for_test(
            &[("getpid", GETPID), ("set_robust_list", bad_robust_list)],
            w.as_raw_fd(),
            b"never",
        );
        run(start);
        assert_eq!(wait_done(start), status::CALL_FAILED);
        assert_eq!(start.failed_call.load(Ordering::Relaxed), 1);
        let err = wait_ready(&[start]).unwrap_err().to_string();
        assert!(
            err.starts_with("thread 4242: set_robust_list: Invalid argument"),
            "{err}"
        );
        // Nothing was written.
        assert_eq!(written(&w), b"");
    }

    /// A thread section of `info`, one queued SIGUSR2 if `queued`, and a
    /// harmless FPU image.
    fn thread_payload(info: &ThreadInfo, queued: bool) -> Vec<u8> {
        use chpox_abi::dump::QueuedSignal;
        let mut signal = QueuedSignal { info: [0; 128] };
        signal.info[..4].copy_from_slice(&libc::SIGUSR2.to_le_bytes());
        // SI_TKILL: what pthread_kill() leaves.
        signal.info[8..12].copy_from_slice(&(-6i32).to_le_bytes());
        let mut image = [0u8; fpu::XSAVE_MIN];
        image[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        let mut payload = Vec::new();
        let signals: &[QueuedSignal] = if queued { &[signal] } else { &[] };
        info.encode(signals, &image, &mut |b| payload.extend_from_slice(b));
        payload
    }

    fn worker_info() -> ThreadInfo {
        use chpox_abi::dump::Registers;
        let mut regs = [0u64; 27];
        regs[Registers::CS] = 0x33;
        regs[Registers::SS] = 0x2b;
        let mut info = ThreadInfo {
            tid: 4343,
            robust_list: 0x1000,
            robust_list_len: ROBUST_LIST_HEAD_SIZE,
            clear_child_tid: 0x2000,
            regs,
            ..Default::default()
        };
        info.comm[..6].copy_from_slice(b"worker");
        info
    }

    #[test]
    fn a_prepared_thread_makes_its_calls_in_order() {
        let mut info = worker_info();
        info.pending = 1 << (libc::SIGUSR1 - 1) | 1 << (libc::SIGUSR2 - 1);
        info.altstack = [0x7000, 8192, 0];
        let payload = thread_payload(&info, true);
        let thread = ThreadInfo::decode(&payload).unwrap();
        let setting = Setting {
            pid: 4300,
            control_fd: 7,
            give_up_capabilities: true,
        };
        let start = ThreadStart::prepare(&thread, &setting, b"restore 3 7 0 1\n".to_vec()).unwrap();
        let names: Vec<&str> = start.names.iter().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "capset",
                "prctl(PR_SET_KEEPCAPS, 0)",
                "re-queue pending signal 12",
                "re-raise pending signal 10",
                "sigaltstack",
                "set_robust_list",
                "prctl(PR_SET_NAME)",
                "set_tid_address",
            ]
        );
        // SAFETY: `calls` points at `call_count` calls of the leaked start.
        let calls = unsafe { std::slice::from_raw_parts(start.calls, start.call_count as usize) };
        assert_eq!(&calls[2].args[..3], &[4300, 4343, 12]);
        assert_eq!(&calls[3].args[..3], &[4300, 4343, 10]);
        assert_eq!(&calls[5].args[..2], &[0x1000, ROBUST_LIST_HEAD_SIZE]);
        assert_eq!(calls[7].args[0], 0x2000);
    }

    #[test]
    fn a_prepared_thread_runs_to_its_restore_write() {
        // No signals: they would aim at the dumped tid, which the test
        // cannot give the thread without privileges.
        let payload = thread_payload(&worker_info(), false);
        let thread = ThreadInfo::decode(&payload).unwrap();
        let w = scratch();
        let setting = Setting {
            pid: std::process::id() as i32,
            control_fd: w.as_raw_fd(),
            give_up_capabilities: false,
        };
        let start = ThreadStart::prepare(&thread, &setting, b"restore 3 4 0 1\n".to_vec()).unwrap();
        run(start);
        assert_eq!(wait_done(start), status::RESTORE_RETURNED);
        assert_eq!(written(&w), b"restore 3 4 0 1\n");
    }
}
