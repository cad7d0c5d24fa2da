// SPDX-License-Identifier: GPL-2.0

//! `chpox-fuzz guest`: the fuzz test against the real kernel module, run as
//! root inside the test VM (`selftests/test_fuzz.sh`).
//!
//! Every case takes a real dump (a file of a seed directory), mutates it as
//! the user-space fuzzer does ([`crate::mutate`]: fields set to 0, the
//! maximum, just past the end; sections dropped, repeated, reordered,
//! spliced; checksums fixed in most cases), writes it to a fresh file owned
//! by an unprivileged uid, mode 0600, and hands it, as that uid:
//!
//! 1. straight to the kernel: a child drops to the uid completely, puts its
//!    vDSO where the dump had it (as ld-chpox does; the kernel refuses with
//!    `EADDRNOTAVAIL` otherwise), opens the dump and `/proc/chpox` and
//!    writes `restore <dump fd> <control fd> <process> 0` in one `write()`.
//!    Either the write fails (its errno is counted) or the child has become
//!    the restored program, which runs a moment and is killed;
//! 2. to `ld-chpox DUMP`, in its own process group, killed with everything
//!    it started after a moment once a process is restored. A panic of
//!    ld-chpox is a failure: it must refuse bad input with a message. One
//!    run in four is root's: ld-chpox then takes the dump owner's ids
//!    itself, and gives a tree its pids back (which a user cannot).
//!
//! A process that SIGKILL does not end within a few seconds (stuck in the
//! kernel) and any BUG, WARNING, KASAN, lockdep, soft lockup or hung task
//! report in the kernel log (read from `/dev/kmsg` after every case) are
//! failures. A failing case's input is kept, with what happened, in the
//! keep directory; so are the seeds and the number of the case under way,
//! so that a case that kills the VM can be run again.

use crate::abi::dump::{decode_vmas, vma_flags, SectionKind};
use crate::abi::registration::{Command, Sink, PROC_PATH};
use crate::mutate::{split, Layout, Mutator};
use crate::rng::Rng;
use crate::seeds::{self, Seed};
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Descriptor numbers in the direct-restore child: its report pipe, the
/// dump and `/proc/chpox` (above anything a dumped program is likely to
/// use, so that a restored program does not write into the report pipe).
const REPORT_FD: RawFd = 900;
const DUMP_FD: RawFd = 901;
const CONTROL_FD: RawFd = 902;
/// `arch_prctl(ARCH_MAP_VDSO_64)`.
const ARCH_MAP_VDSO_64: libc::c_long = 0x2003;
/// One case in this many restores the seed as it is.
const PLAIN_ONE_IN: u64 = 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of cases.
    pub cases: u64,
    /// Number of the first case.
    pub start: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// Directories of real seed dumps.
    pub seed_dirs: Vec<PathBuf>,
    /// Files to run as they are instead of mutated cases.
    pub replay: Vec<PathBuf>,
    /// The unprivileged uid (and gid) that restores.
    pub uid: u32,
    /// Where failing inputs, the seeds and the case under way are kept.
    pub keep: PathBuf,
    /// ld-chpox (default: found on PATH).
    pub ld_chpox: Option<PathBuf>,
    /// How long a restored program runs before it is killed.
    pub run: Duration,
    /// How long a restore may take before it is killed (a slow case, not a
    /// failure unless it does not die).
    pub limit: Duration,
    /// How long killed processes have to disappear before they count as
    /// stuck in the kernel.
    pub stuck: Duration,
    /// Stop after this many seconds even if cases are left.
    pub seconds: Option<f64>,
    /// Print progress to stderr now and then.
    pub progress: bool,
}

/// How one path (direct or ld-chpox) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Refused: the errno of the `restore` write, or ld-chpox's message.
    Refused(String),
    /// Restored, still running when its time was up: killed.
    Killed,
    /// Restored (or at least past the write), then ended by itself (exit
    /// or signal) before its time was up.
    Ended(String),
    /// Still restoring when the limit was reached: killed.
    Slow,
}

/// Counts of one path's ends.
#[derive(Debug, Default, Clone)]
struct PathStats {
    refused: u64,
    reasons: BTreeMap<String, u64>,
    killed: u64,
    ended: u64,
    slow: u64,
}

impl PathStats {
    fn add(&mut self, end: &End) {
        match end {
            End::Refused(why) => {
                self.refused += 1;
                *self.reasons.entry(why.clone()).or_default() += 1;
            }
            End::Killed => self.killed += 1,
            End::Ended(_) => self.ended += 1,
            End::Slow => self.slow += 1,
        }
    }

    /// The `n` most frequent reasons, most frequent first.
    fn top(&self, n: usize) -> String {
        let mut v: Vec<(&String, &u64)> = self.reasons.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .take(n)
            .map(|(why, count)| format!("{why} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Seed dumps used.
    pub seeds: usize,
    /// Cases run.
    pub cases: u64,
    /// Cases that restored a seed as it is.
    pub plain: u64,
    /// Direct restores whose vDSO was moved to the dumped place first.
    pub vdso_moved: u64,
    /// ld-chpox runs as root.
    pub ld_as_root: u64,
    /// ld-chpox runs with `--lazy`.
    pub ld_lazy: u64,
    direct: PathStats,
    ld: PathStats,
    /// ld-chpox panics.
    pub panics: u64,
    /// Processes SIGKILL did not end in time.
    pub stuck: u64,
    /// Cases after which the kernel log had a report.
    pub kernel: u64,
    /// Cases the harness itself could not run as planned.
    pub harness: u64,
    /// "restore failed after the point of no return" lines in the log.
    pub no_return: u64,
    /// Whether the kernel log could be read.
    pub kmsg: bool,
    /// Seconds taken.
    pub seconds: f64,
}

impl Stats {
    /// Failures of any kind.
    pub fn failures(&self) -> u64 {
        self.panics + self.stuck + self.kernel + self.harness
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} cases from {} seeds in {:.0} s ({:.2} s a case), {} of them plain seeds",
            self.cases,
            self.seeds,
            self.seconds,
            self.seconds / self.cases.max(1) as f64,
            self.plain
        )?;
        let d = &self.direct;
        writeln!(
            f,
            "direct restore: refused {} ({}), restored then killed {}, ended by itself {}, \
             slow {}; vDSO moved {}; past the point of no return then failed {}",
            d.refused,
            d.top(6),
            d.killed,
            d.ended,
            d.slow,
            self.vdso_moved,
            self.no_return
        )?;
        let l = &self.ld;
        writeln!(
            f,
            "ld-chpox: refused {} ({}), restored then killed {}, ended by itself {}, slow {}; \
             run as root {}, lazy {}",
            l.refused,
            l.top(4),
            l.killed,
            l.ended,
            l.slow,
            self.ld_as_root,
            self.ld_lazy
        )?;
        if !self.kmsg {
            writeln!(f, "the kernel log could not be read (/dev/kmsg)")?;
        }
        // One line of counts for scripts.
        write!(
            f,
            "guest-fuzz: cases={} direct_refused={} direct_restored={} direct_slow={} \
             ld_refused={} ld_restored={} ld_slow={} panics={} stuck={} kernel={} harness={} \
             failures={}",
            self.cases,
            d.refused,
            d.killed + d.ended,
            d.slow,
            l.refused,
            l.killed + l.ended,
            l.slow,
            self.panics,
            self.stuck,
            self.kernel,
            self.harness,
            self.failures()
        )
    }
}

/// One input and how to run it.
struct Case {
    /// Its name in reports ("case N" or a file).
    name: String,
    /// The seed it comes from.
    origin: String,
    bytes: Vec<u8>,
    /// The mutations that made it.
    log: Vec<String>,
    /// Which process of the dump the direct restore asks for.
    process: u32,
    /// Whether the direct restore moves its vDSO to the dumped place.
    move_vdso: bool,
    /// Whether ld-chpox runs with ASLR off.
    no_aslr: bool,
    /// Whether ld-chpox runs as root (it takes the dump owner's ids itself
    /// then, and may give a tree its pids back).
    ld_as_root: bool,
    /// Whether ld-chpox restores with `--lazy` (its page server reads the
    /// pages), as root, the dump made root's.
    lazy: bool,
}

/// What went wrong in one case (empty: nothing).
#[derive(Default)]
struct Trouble {
    lines: Vec<String>,
}

impl Trouble {
    fn add(&mut self, what: String) {
        self.lines.push(what);
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_name(e: i32) -> String {
    let name = format!("{:?}", Errno::from_raw(e));
    if name == "UnknownErrno" {
        format!("errno {e}")
    } else {
        name
    }
}

/// `pid`'s parent and state letter, from `/proc/PID/stat`.
fn stat_of(pid: i32) -> Option<(i32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name may hold spaces and parentheses: the fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Every process below `root`, with its state letter.
fn descendants(root: i32) -> Vec<(i32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<i32, Vec<(i32, char)>> = HashMap::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Some((ppid, state)) = stat_of(pid) {
            children.entry(ppid).or_default().push((pid, state));
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &(c, state) in children.get(&p).map_or(&[][..], |v| &v[..]) {
            out.push((c, state));
            todo.push(c);
        }
    }
    out
}

/// Reaps every child that has ended; returns `pid`'s status if it was one.
fn reap(pid: Option<Pid>) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(s) => {
                if s.pid() == pid {
                    found = Some(s);
                }
            }
        }
    }
}

/// What the kernel says about a process that does not die.
fn describe_stuck(pid: i32) -> String {
    let read = |what: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{what}")).unwrap_or_else(|e| format!("({e})"))
    };
    let status = read("status");
    let state = status
        .lines()
        .filter(|l| l.starts_with("Name:") || l.starts_with("State:"))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "pid {pid}: {state}; wchan {}; syscall {}\nstack:\n{}",
        read("wchan"),
        read("syscall").trim_end(),
        read("stack").trim_end()
    )
}

/// Kills every process below us and reaps them, the ones SIGKILL cannot
/// end within `stuck` excepted: those are returned, described.
fn kill_all(me: i32, stuck: Duration) -> Vec<String> {
    let started = Instant::now();
    loop {
        reap(None);
        let alive = descendants(me);
        if alive.is_empty() {
            return Vec::new();
        }
        for &(p, _) in &alive {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        if started.elapsed() >= stuck {
            // Zombies whose parent is stuck are not themselves stuck.
            return alive
                .iter()
                .filter(|&&(_, state)| state != 'Z')
                .map(|&(p, _)| describe_stuck(p))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The kernel log, from the moment it is opened on.
struct Kmsg(Option<File>);

/// What the kernel's bug finders print.
const SPLATS: &[&str] = &[
    "WARNING",
    "BUG",
    "Oops",
    "KASAN",
    "lockdep",
    "possible recursive locking",
    "circular locking",
    "soft lockup",
    "hard LOCKUP",
    "hung_task",
    "blocked for more than",
    "Call Trace",
    "RCU stall",
    "rcu_sched detected stall",
    "kmemleak",
    "Kernel panic",
];

impl Kmsg {
    fn open() -> Kmsg {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok();
        if let Some(f) = &file {
            // SAFETY: moves the reader of our own descriptor to the end.
            unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_END) };
        }
        Kmsg(file)
    }

    /// The messages logged since the last call.
    fn new_lines(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(f) = &mut self.0 else {
            return out;
        };
        let mut buf = vec![0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    // "PRIORITY,SEQUENCE,TIME,FLAGS;MESSAGE\n KEY=VALUE..."
                    let first = record.lines().next().unwrap_or("");
                    let message = first.split_once(';').map_or(first, |(_, m)| m);
                    out.push(message.to_string());
                }
                // Records overwritten before we read them: go on.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// Our vDSO and vvar areas and every other area, from `/proc/self/maps`
/// (a forked child has the same).
struct OwnMaps {
    vdso: Option<(u64, u64)>,
    vvar: Option<(u64, u64)>,
    others: Vec<(u64, u64)>,
}

fn own_maps() -> OwnMaps {
    let mut m = OwnMaps {
        vdso: None,
        vvar: None,
        others: Vec::new(),
    };
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for l in text.lines() {
        let range = l.split(' ').next().unwrap_or("");
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        if l.ends_with("[vdso]") {
            m.vdso = Some((a, b));
        } else if l.ends_with("[vvar]") {
            m.vvar = Some((a, b));
        } else {
            m.others.push((a, b));
        }
    }
    m
}

/// How the direct-restore child moves its vDSO: unmap these two areas,
/// then map the vDSO block at `to`.
#[derive(Debug, Clone, Copy)]
struct VdsoMove {
    vvar: (u64, u64),
    vdso: (u64, u64),
    to: u64,
}

/// Where process `process` of `bytes` had its vDSO, and whether the child
/// can put its own there (the first memory map of the process, as the
/// kernel reads it; nothing of ours in the way). None: leave it.
fn plan_vdso(bytes: &[u8], process: u32) -> Option<VdsoMove> {
    let layout = split(bytes);
    let vmas = layout
        .sections
        .iter()
        .find(|s| s.kind == SectionKind::Vmas as u32 && s.process == process)?;
    let vmas = decode_vmas(&vmas.payload).ok()?;
    let find = |flag| {
        vmas.clone()
            .find(|v| v.flags & flag != 0)
            .map(|v| (v.start, v.end))
    };
    let (dumped_vdso, dumped_vvar) = (find(vma_flags::VDSO)?, find(vma_flags::VVAR)?);
    let own = own_maps();
    let (vdso, vvar) = (own.vdso?, own.vvar?);
    if vdso == dumped_vdso && vvar == dumped_vvar {
        return None;
    }
    let (lo, hi) = (
        dumped_vvar.0.min(dumped_vdso.0),
        dumped_vvar.1.max(dumped_vdso.1),
    );
    if own.others.iter().any(|&(a, b)| a < hi && lo < b) {
        return None;
    }
    Some(VdsoMove { vvar, vdso, to: lo })
}

struct Bytes(Vec<u8>);

impl Sink for Bytes {
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// Sets every uid and gid to `uid` and drops the supplementary groups (and
/// with uid 0 gone, every capability). Returns 0 or the errno.
///
/// # Safety
///
/// Plain system calls; for a freshly forked child.
unsafe fn drop_to(uid: u32) -> i32 {
    if libc::setgroups(0, std::ptr::null()) < 0
        || libc::setresgid(uid, uid, uid) < 0
        || libc::setresuid(uid, uid, uid) < 0
    {
        return errno();
    }
    0
}

/// Writes a report (a tag and a number) to the parent.
fn report(tag: u8, n: i32) {
    let mut msg = [tag, 0, 0, 0, 0];
    msg[1..].copy_from_slice(&n.to_le_bytes());
    // SAFETY: writes a local buffer to our report pipe.
    unsafe { libc::write(REPORT_FD, msg.as_ptr().cast(), msg.len()) };
}

/// Puts `fd` at `to` and closes it where it was.
///
/// # Safety
///
/// Plain system calls on descriptors of the caller.
unsafe fn move_fd(fd: RawFd, to: RawFd) -> bool {
    if fd == to {
        return true;
    }
    let ok = libc::dup2(fd, to) == to;
    libc::close(fd);
    ok
}

/// The direct-restore child: never returns. Reports `S` and an errno if
/// it cannot get as far as the write, `W` before the write, `E` and the
/// errno if the write fails; if it succeeds, this process is the restored
/// program.
fn direct_child(
    dump: &CString,
    scratch: &CString,
    command: &[u8],
    uid: u32,
    vdso: Option<VdsoMove>,
    report_w: RawFd,
    devnull: RawFd,
) -> ! {
    // SAFETY: system calls on our own descriptors, ids and memory, in a
    // single-threaded child of a fork. Between the vDSO's unmapping and the
    // write nothing calls into the vDSO.
    unsafe {
        libc::dup2(report_w, REPORT_FD);
        for fd in 0..3 {
            libc::dup2(devnull, fd);
        }
        libc::syscall(libc::SYS_close_range, 3u32, (REPORT_FD - 1) as u32, 0u32);
        libc::syscall(
            libc::SYS_close_range,
            (REPORT_FD + 1) as u32,
            u32::MAX,
            0u32,
        );
        libc::chdir(scratch.as_ptr());
        let e = drop_to(uid);
        if e != 0 {
            report(b'S', e);
            libc::_exit(1);
        }
        // Set after the uid change, which clears it.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let fd = libc::open(dump.as_ptr(), libc::O_RDONLY);
        if fd < 0 || !move_fd(fd, DUMP_FD) {
            report(b'S', errno());
            libc::_exit(1);
        }
        let proc_path = CString::new(PROC_PATH).unwrap_or_default();
        let fd = libc::open(proc_path.as_ptr(), libc::O_WRONLY);
        if fd < 0 || !move_fd(fd, CONTROL_FD) {
            report(b'S', errno());
            libc::_exit(1);
        }
        report(b'W', 0);
        if let Some(m) = vdso {
            libc::munmap(
                m.vvar.0 as *mut libc::c_void,
                (m.vvar.1 - m.vvar.0) as usize,
            );
            libc::munmap(
                m.vdso.0 as *mut libc::c_void,
                (m.vdso.1 - m.vdso.0) as usize,
            );
            libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, m.to);
        }
        let n = libc::write(CONTROL_FD, command.as_ptr().cast(), command.len());
        // Still here: refused (a success returns into the restored program).
        report(b'E', if n < 0 { errno() } else { 0 });
        libc::_exit(0)
    }
}

/// The ld-chpox child: never returns.
#[allow(clippy::too_many_arguments)]
fn ld_child(
    ld: &CString,
    env: &[CString],
    dump: &CString,
    scratch: &CString,
    uid: Option<u32>,
    no_aslr: bool,
    lazy: bool,
    devnull: RawFd,
    out: RawFd,
    err: RawFd,
) -> ! {
    // SAFETY: system calls on our own descriptors and ids in a
    // single-threaded child of a fork, then exec.
    unsafe {
        libc::setpgid(0, 0);
        libc::dup2(devnull, 0);
        libc::dup2(out, 1);
        libc::dup2(err, 2);
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::chdir(scratch.as_ptr());
        let e = uid.map_or(0, |uid| drop_to(uid));
        if e != 0 {
            let msg = b"chpox-fuzz: cannot drop privileges\n";
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(126);
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if no_aslr {
            libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
        }
        let argv = if lazy {
            [
                ld.as_ptr(),
                c"--lazy".as_ptr(),
                dump.as_ptr(),
                std::ptr::null(),
            ]
        } else {
            [
                ld.as_ptr(),
                dump.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
            ]
        };
        let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
        envp.push(std::ptr::null());
        libc::execve(ld.as_ptr(), argv.as_ptr(), envp.as_ptr());
        let msg = b"chpox-fuzz: cannot run ld-chpox\n";
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

fn describe_status(s: WaitStatus) -> String {
    match s {
        WaitStatus::Exited(_, code) => format!("exit {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("{sig}"),
        other => format!("{other:?}"),
    }
}

/// Whether a process below us other than `ld` runs something else than
/// ld-chpox: a restored program.
fn restored_below(me: i32, ld: i32) -> bool {
    descendants(me).iter().any(|&(p, state)| {
        p != ld
            && state != 'Z'
            && std::fs::read(format!("/proc/{p}/maps"))
                .is_ok_and(|m| !m.is_empty() && !contains(&m, b"ld-chpox"))
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// ld-chpox's message, without the dump's path and numbers, as a reason
/// to count.
fn ld_reason(stderr: &str, dump: &Path) -> String {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("ld-chpox:"))
        .or_else(|| stderr.lines().next())
        .unwrap_or("(no message)");
    let line = line.strip_prefix("ld-chpox: ").unwrap_or(line);
    let line = line.replace(&format!("{}: ", dump.display()), "");
    let line = line.replace(&dump.display().to_string(), "DUMP");
    let mut out = String::new();
    let mut in_number = false;
    for c in line.chars() {
        if c.is_ascii_digit() || (in_number && c.is_ascii_hexdigit()) || (in_number && c == 'x') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    let mut reason: String = out.chars().take(60).collect();
    if reason.is_empty() {
        reason.push_str("(empty message)");
    }
    reason
}

/// The guest fuzzer's state.
struct Guest<'a> {
    opts: &'a Options,
    me: i32,
    scratch: PathBuf,
    scratch_c: CString,
    ld: CString,
    /// ld-chpox's environment.
    ld_env: Vec<CString>,
    devnull: File,
    kmsg: Kmsg,
    stats: Stats,
}

impl Guest<'_> {
    /// Runs `case` straight through the kernel's `restore`.
    fn direct(&mut self, case: &Case, dump: &CString, trouble: &mut Trouble) -> Option<End> {
        let mut command = Bytes(Vec::new());
        Command::Restore {
            dump_fd: DUMP_FD as u32,
            control_fd: CONTROL_FD as u32,
            process: case.process,
            // The leader, which rebuilds the address space; the other
            // threads' restore is not driven from here yet.
            thread: 0,
            lazy_fd: None,
        }
        .encode(&mut command);
        let vdso = if case.move_vdso {
            plan_vdso(&case.bytes, case.process)
        } else {
            None
        };
        self.stats.vdso_moved += u64::from(vdso.is_some());
        let (report_r, report_w): (OwnedFd, OwnedFd) = match nix::unistd::pipe() {
            Ok(p) => p,
            Err(e) => {
                trouble.add(format!("harness: pipe: {e}"));
                return None;
            }
        };
        // SAFETY: this process is single-threaded; the child only makes
        // system calls and exits (or becomes the restored program).
        let child = match unsafe { fork() } {
            Ok(ForkResult::Child) => direct_child(
                dump,
                &self.scratch_c,
                &command.0,
                self.opts.uid,
                vdso,
                report_w.as_raw_fd(),
                self.devnull.as_raw_fd(),
            ),
            Ok(ForkResult::Parent { child }) => child,
            Err(e) => {
                trouble.add(format!("harness: fork: {e}"));
                return None;
            }
        };
        drop(report_w);
        let mut pipe = File::from(report_r);
        // SAFETY: makes our own read end non-blocking.
        unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let started = Instant::now();
        let mut got = Vec::new();
        let mut eof = false;
        let mut writing = false;
        let mut restored_at: Option<Instant> = None;
        let fd_path = format!("/proc/{child}/fd/{CONTROL_FD}");
        let end = loop {
            if !eof {
                let mut pfd = libc::pollfd {
                    fd: pipe.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: polls one valid descriptor.
                unsafe { libc::poll(&mut pfd, 1, 10) };
                let mut buf = [0u8; 64];
                match pipe.read(&mut buf) {
                    Ok(0) => eof = true,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut refused = None;
            for msg in got.chunks_exact(5) {
                let n = i32::from_le_bytes([msg[1], msg[2], msg[3], msg[4]]);
                match msg[0] {
                    b'W' => writing = true,
                    b'E' => refused = Some(End::Refused(errno_name(n))),
                    _ => {
                        trouble.add(format!(
                            "harness: the direct-restore child could not get to the write: {}",
                            errno_name(n)
                        ));
                        refused = Some(End::Refused("setup failed".into()));
                    }
                }
            }
            got.drain(..got.len() / 5 * 5);
            if refused.is_some() {
                break refused;
            }
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(s) => {
                    if !writing {
                        trouble.add(format!(
                            "harness: the direct-restore child ended before the write: {}",
                            describe_status(s)
                        ));
                    }
                    break Some(End::Ended(describe_status(s)));
                }
                Err(e) => {
                    trouble.add(format!("harness: waitpid: {e}"));
                    break None;
                }
            }
            if writing && restored_at.is_none() && !Path::new(&fd_path).exists() {
                // The kernel closed the dump and control descriptors on
                // the way back to user space: restored.
                restored_at = Some(Instant::now());
            }
            match restored_at {
                Some(at) if at.elapsed() >= self.opts.run => break Some(End::Killed),
                None if started.elapsed() >= self.opts.limit => break Some(End::Slow),
                _ => {}
            }
        };
        let stuck = kill_all(self.me, self.opts.stuck);
        if !stuck.is_empty() {
            self.stats.stuck += 1;
            trouble.add(format!(
                "direct restore ({:?}): processes SIGKILL did not end in {:?}:\n{}",
                end,
                self.opts.stuck,
                stuck.join("\n")
            ));
        }
        end
    }

    /// Runs `case` through `ld-chpox`.
    fn ld(
        &mut self,
        dump_path: &Path,
        dump: &CString,
        case: &Case,
        trouble: &mut Trouble,
    ) -> Option<End> {
        let out_path = self.scratch.join("ld.out");
        let err_path = self.scratch.join("ld.err");
        let open = |p: &Path| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(p)
        };
        let (out, err) = match (open(&out_path), open(&err_path)) {
            (Ok(o), Ok(e)) => (o, e),
            (Err(e), _) | (_, Err(e)) => {
                trouble.add(format!("harness: ld-chpox output files: {e}"));
                return None;
            }
        };
        // SAFETY: single-threaded; the child only makes system calls, then
        // execs ld-chpox.
        let child = match unsafe { fork() } {
            Ok(ForkResult::Child) => ld_child(
                &self.ld,
                &self.ld_env,
                dump,
                &self.scratch_c,
                (!case.ld_as_root).then_some(self.opts.uid),
                case.no_aslr,
                case.lazy,
                self.devnull.as_raw_fd(),
                out.as_raw_fd(),
                err.as_raw_fd(),
            ),
            Ok(ForkResult::Parent { child }) => child,
            Err(e) => {
                trouble.add(format!("harness: fork: {e}"));
                return None;
            }
        };
        drop((out, err));
        // Its group, should it not be set up yet when we kill it.
        let _ = nix::unistd::setpgid(child, child);
        let started = Instant::now();
        let mut restored_at: Option<Instant> = None;
        let mut last_look = Instant::now();
        let mut status = None;
        let end = loop {
            std::thread::sleep(Duration::from_millis(20));
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(s) => {
                    status = Some(s);
                    break None;
                }
                Err(e) => {
                    trouble.add(format!("harness: waitpid: {e}"));
                    break None;
                }
            }
            if restored_at.is_none() && last_look.elapsed() >= Duration::from_millis(100) {
                last_look = Instant::now();
                if restored_below(self.me, child.as_raw()) {
                    restored_at = Some(Instant::now());
                }
            }
            match restored_at {
                Some(at) if at.elapsed() >= self.opts.run => break Some(End::Killed),
                None if started.elapsed() >= self.opts.limit => break Some(End::Slow),
                _ => {}
            }
        };
        let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
        let stuck = kill_all(self.me, self.opts.stuck);
        if !stuck.is_empty() {
            self.stats.stuck += 1;
            trouble.add(format!(
                "ld-chpox ({end:?}): processes SIGKILL did not end in {:?}:\n{}",
                self.opts.stuck,
                stuck.join("\n")
            ));
        }
        let stderr = std::fs::read(&err_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        // A restored program of ours may panic too (chpox-testprog): only
        // ld-chpox's own panics count.
        if let Some(l) = stderr
            .lines()
            .find(|l| l.contains("panicked at") && !l.contains("testprog"))
        {
            self.stats.panics += 1;
            trouble.add(format!("ld-chpox panicked: {l}\nits stderr:\n{stderr}"));
        }
        if stderr.contains("chpox-fuzz: cannot") {
            trouble.add(format!("harness: {}", stderr.trim_end()));
        }
        Some(match (end, status) {
            (Some(end), _) => end,
            (None, Some(s)) => {
                if restored_at.is_some() {
                    End::Ended(describe_status(s))
                } else if matches!(s, WaitStatus::Exited(_, c) if c != 0)
                    && stderr.contains("ld-chpox:")
                {
                    End::Refused(ld_reason(&stderr, dump_path))
                } else {
                    End::Ended(describe_status(s))
                }
            }
            (None, None) => return None,
        })
    }

    /// Reads the kernel log since the last look; reports splats.
    fn kernel_log(&mut self, trouble: &mut Trouble) {
        let lines = self.kmsg.new_lines();
        self.stats.no_return += lines
            .iter()
            .filter(|l| l.contains("after the point of no return"))
            .count() as u64;
        if lines.iter().any(|l| SPLATS.iter().any(|s| l.contains(s))) {
            self.stats.kernel += 1;
            trouble.add(format!("kernel log:\n{}", lines.join("\n")));
        }
    }

    /// Runs one case; returns what went wrong.
    fn run_case(&mut self, case: &Case) -> Trouble {
        let mut trouble = Trouble::default();
        let path = self.scratch.join("case.dump");
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &case.bytes))
            .and_then(|()| {
                std::os::unix::fs::chown(&path, Some(self.opts.uid), Some(self.opts.uid))
            });
        if let Err(e) = written {
            trouble.add(format!("harness: cannot write {}: {e}", path.display()));
            let _ = std::fs::remove_file(&path);
            self.stats.harness += 1;
            return trouble;
        }
        let dump = CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
        let direct = self.direct(case, &dump, &mut trouble);
        self.kernel_log(&mut trouble);
        // A lazy restore is root's, of root's dumps: the same bytes, root's.
        if case.lazy {
            if let Err(e) = std::os::unix::fs::chown(&path, Some(0), Some(0)) {
                trouble.add(format!("harness: chown {}: {e}", path.display()));
            }
        }
        let ld = self.ld(&path, &dump, case, &mut trouble);
        self.stats.ld_as_root += u64::from(case.ld_as_root);
        self.stats.ld_lazy += u64::from(case.lazy);
        self.kernel_log(&mut trouble);
        let _ = std::fs::remove_file(&path);
        match (&direct, &ld) {
            (Some(d), Some(l)) => {
                self.stats.direct.add(d);
                self.stats.ld.add(l);
            }
            _ => trouble.add("harness: the case did not run to the end".into()),
        }
        if trouble.lines.iter().any(|l| l.starts_with("harness:")) {
            self.stats.harness += 1;
        }
        if !trouble.lines.is_empty() {
            trouble
                .lines
                .insert(0, format!("direct restore: {direct:?}; ld-chpox: {ld:?}"));
        }
        trouble
    }

    /// Keeps the input and the story of a failing case.
    fn keep(&self, case: &Case, trouble: &Trouble, file: &str) {
        let dir = &self.opts.keep;
        let path = dir.join(format!("{file}.dump"));
        let mut text = format!(
            "{}\nfrom: {}\nuid {}, process {}, vDSO moved: {}, ld-chpox without ASLR: {}, \
             as root: {}, lazy: {}\n",
            case.name,
            case.origin,
            self.opts.uid,
            case.process,
            case.move_vdso,
            case.no_aslr,
            case.ld_as_root,
            case.lazy
        );
        for l in &case.log {
            let _ = writeln!(text, "  {l}");
        }
        let _ = writeln!(
            text,
            "again: chpox-fuzz guest --uid {} --keep DIR --replay {}",
            self.opts.uid,
            path.display()
        );
        for l in &trouble.lines {
            let _ = writeln!(text, "{l}");
        }
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, &case.bytes))
            .and_then(|()| std::fs::write(path.with_extension("txt"), &text));
        eprintln!("chpox-fuzz: FAILURE in {}:\n{text}", case.name);
        match written {
            Ok(()) => eprintln!("chpox-fuzz: input kept as {}", path.display()),
            Err(e) => eprintln!("chpox-fuzz: could not keep {}: {e}", path.display()),
        }
    }
}

/// Our environment, with glibc's rseq registration off: ld-chpox runs
/// itself again with it otherwise (`ensure_no_rseq`), an exec per case
/// that tests nothing.
fn ld_environment() -> Vec<CString> {
    const TUNABLE: &str = "glibc.pthread.rseq=0";
    let mut tunables = String::new();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            if k == "GLIBC_TUNABLES" {
                tunables = v.to_string_lossy().into_owned();
                return None;
            }
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    if !tunables.split(':').any(|t| t == TUNABLE) {
        if !tunables.is_empty() {
            tunables.push(':');
        }
        tunables.push_str(TUNABLE);
    }
    env.extend(CString::new(format!("GLIBC_TUNABLES={tunables}")).ok());
    env
}

/// Searches PATH for `name`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The seeds' header's process count.
fn processes_of(bytes: &[u8]) -> u32 {
    bytes
        .get(28..32)
        .map_or(1, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Copies the seeds into `dir` (so that a case under way when the VM died
/// can be made again: same seeds, same generator seed, same case number).
fn save_seeds(seeds: &[Seed], dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for s in seeds {
        let name = Path::new(&s.name)
            .file_name()
            .map_or_else(|| s.name.clone().into(), |n| n.to_os_string());
        std::fs::write(dir.join(name), &s.bytes)?;
    }
    Ok(())
}

/// Runs the cases of `opts` (or its replayed files).
pub fn run(opts: &Options) -> Result<Stats, String> {
    // SAFETY: a plain system call.
    if unsafe { libc::geteuid() } != 0 {
        return Err("guest mode runs as root (inside the test VM)".into());
    }
    if opts.uid == 0 {
        return Err("--uid must name an unprivileged user".into());
    }
    let ld = match &opts.ld_chpox {
        Some(p) => p.clone(),
        None => on_path("ld-chpox").ok_or("no ld-chpox on PATH (or give --ld-chpox)")?,
    };
    let seeds: Vec<Seed> = opts
        .seed_dirs
        .iter()
        .flat_map(|d| seeds::from_dir(d))
        .collect();
    if seeds.is_empty() && opts.replay.is_empty() {
        return Err("no seed dumps (--seeds DIR)".into());
    }
    let pool: Vec<Layout> = seeds.iter().map(|s| split(&s.bytes)).collect();
    let me = std::process::id() as i32;
    // Orphans of the restored trees become our children, to be reaped.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
    let scratch = std::env::temp_dir().join(format!("chpox-fuzz-guest.{me}"));
    std::fs::DirBuilder::new()
        .mode(0o711)
        .create(&scratch)
        .map_err(|e| format!("{}: {e}", scratch.display()))?;
    let devnull = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    let kmsg = Kmsg::open();
    let mut g = Guest {
        opts,
        me,
        scratch_c: CString::new(scratch.as_os_str().as_bytes()).unwrap_or_default(),
        scratch: scratch.clone(),
        ld: CString::new(ld.as_os_str().as_bytes()).map_err(|e| e.to_string())?,
        ld_env: ld_environment(),
        devnull,
        stats: Stats {
            seeds: seeds.len(),
            kmsg: kmsg.0.is_some(),
            ..Default::default()
        },
        kmsg,
    };
    let inflight = opts.keep.join("inflight.txt");
    let saved = opts.keep.join("seeds");
    if opts.replay.is_empty() {
        save_seeds(&seeds, &saved).map_err(|e| format!("{}: {e}", saved.display()))?;
    }
    let started = Instant::now();
    let mut last_report = Instant::now();
    let cases: Vec<u64> = if opts.replay.is_empty() {
        (opts.start..opts.start.saturating_add(opts.cases)).collect()
    } else {
        (0..opts.replay.len() as u64).collect()
    };
    for n in cases {
        let case = if opts.replay.is_empty() {
            let mut rng = Rng::for_case(opts.seed, n);
            let which = rng.index(pool.len());
            let seed = &seeds[which];
            let processes = processes_of(&seed.bytes);
            let process = match rng.below(20) {
                0 => rng.pick(&[processes, processes.wrapping_add(1), 1000, u32::MAX]),
                1..=4 => rng.below(u64::from(processes)) as u32,
                _ => 0,
            };
            let (move_vdso, no_aslr, ld_as_root) = (!rng.one_in(10), rng.one_in(2), rng.one_in(4));
            // Only root restores lazily, and only root's dumps.
            let lazy = ld_as_root && rng.one_in(2);
            let plain = rng.one_in(PLAIN_ONE_IN);
            let mut m = Mutator {
                rng: &mut rng,
                pool: &pool,
                log: Vec::new(),
            };
            let bytes = if plain {
                m.log.push("the seed as it is".into());
                seed.bytes.clone()
            } else {
                m.dump(&pool[which])
            };
            g.stats.plain += u64::from(plain);
            Case {
                name: format!("case {n} of generator seed {:#x}", opts.seed),
                origin: seed.name.clone(),
                bytes,
                log: m.log,
                process,
                move_vdso,
                no_aslr,
                ld_as_root,
                lazy,
            }
        } else {
            let path = &opts.replay[n as usize];
            Case {
                name: path.display().to_string(),
                origin: path.display().to_string(),
                bytes: std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
                log: Vec::new(),
                process: 0,
                move_vdso: true,
                no_aslr: false,
                ld_as_root: false,
                lazy: false,
            }
        };
        if opts.replay.is_empty() {
            let text = format!(
                "under way: {}\nagain: chpox-fuzz guest --uid {} --keep DIR --seeds {} \
                 --seed {:#x} --start {n} --cases 1\n",
                case.name,
                opts.uid,
                saved.display(),
                opts.seed
            );
            let _ = std::fs::write(&inflight, text);
        }
        let trouble = g.run_case(&case);
        g.stats.cases += 1;
        if !trouble.lines.is_empty() {
            let file = if opts.replay.is_empty() {
                format!("guest-{:x}-{n}", opts.seed)
            } else {
                format!("replay-{n}")
            };
            g.keep(&case, &trouble, &file);
        }
        if opts.progress && last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            g.stats.seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "chpox-fuzz guest: {} cases, {:.0} s, {} failures; direct restores {}, \
                 ld-chpox restores {}",
                g.stats.cases,
                g.stats.seconds,
                g.stats.failures(),
                g.stats.direct.killed + g.stats.direct.ended,
                g.stats.ld.killed + g.stats.ld.ended
            );
        }
        if g.stats.stuck > 0 {
            eprintln!("chpox-fuzz: a process is stuck in the kernel: stopping here");
            break;
        }
        if opts
            .seconds
            .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
        {
            eprintln!(
                "chpox-fuzz: {} s are up after {} cases",
                started.elapsed().as_secs(),
                g.stats.cases
            );
            break;
        }
    }
    g.stats.seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&inflight);
    if g.stats.failures() == 0 {
        let _ = std::fs::remove_dir_all(&saved);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(g.stats)
}
