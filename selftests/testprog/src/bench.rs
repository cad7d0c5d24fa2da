// SPDX-License-Identifier: GPL-2.0

//! The workload of `make bench` (bench/bench.sh) and the helpers its driver
//! uses to time and check it.
//!
//! The workload's processes and the driver talk through a small stats file
//! that both map `MAP_SHARED`, never through signals (chpox's trigger is
//! swallowed by the module, CRIU uses ptrace; the application must see
//! nothing). A shared file mapping survives both tools' restores as what it
//! is, a mapping of that file, so the driver keeps talking to the restored
//! processes through it.
//!
//! Stats file: word 0 is the number of processes; process `i` owns the
//! eight words at `8 * (i + 1)`, see the `PID`... constants.
//!
//! Each process's memory: a private anonymous mapping of `--mib` MiB of
//! which one page in `--stride` is "data". Each data page holds, after its
//! first word, pseudo-random words derived from its process and page index
//! (incompressible; with `--fill half` only 4 bits of each byte vary, so
//! they compress to about half); its first word is the number of the loop iteration that
//! last wrote it. Iteration `i` (from 1) writes `i` into the next `WINDOW`
//! data pages, rotating through them, then sleeps 1 ms: so which iteration
//! last wrote each page follows from the iteration count alone, and a
//! restore that mixed memory of different instants, or memory with a counter
//! of another instant, fails the check.

use nix::libc;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
const WORDS: usize = PAGE / 8;
/// Data pages written per loop iteration.
const WINDOW: u64 = 16;
const STATS_LEN: usize = 4096;
const SLOT_WORDS: usize = 8;
const MAX_PROCS: usize = STATS_LEN / 8 / SLOT_WORDS - 1;

// The words of a process's slot.
/// Its pid, once its memory is filled.
const PID: usize = 0;
/// Loop iterations completed (the driver may zero it to see new ones).
const ITERS: usize = 1;
/// Largest gap between the starts of two iterations since the last reset,
/// in nanoseconds of `CLOCK_MONOTONIC`.
const STALL: usize = 2;
/// The driver asks for a reset of `STALL` by making this differ from
/// `RESET_ACK`; the process copies it there once done.
const RESET_REQ: usize = 3;
const RESET_ACK: usize = 4;
/// Likewise for a check of the memory; `VERIFY_BAD` is set before the ack.
const VERIFY_REQ: usize = 5;
const VERIFY_ACK: usize = 6;
/// Pages found wrong by the last check (0: all good).
const VERIFY_BAD: usize = 7;

/// The stats file, mapped shared.
struct Stats {
    base: *const AtomicU64,
}

impl Stats {
    fn open(path: &str, create: bool) -> std::io::Result<Stats> {
        let file = if create {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?;
            f.set_len(STATS_LEN as u64)?;
            f
        } else {
            OpenOptions::new().read(true).write(true).open(path)?
        };
        Ok(Stats {
            base: map(STATS_LEN, libc::MAP_SHARED, Some(&file))?.cast(),
        })
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        assert!(index < STATS_LEN / 8);
        // SAFETY: within the mapping, which is never unmapped; u64-aligned.
        unsafe { &*self.base.add(index) }
    }

    fn procs(&self) -> usize {
        (self.word(0).load(Ordering::SeqCst) as usize).min(MAX_PROCS)
    }

    fn slot(&self, proc: usize, what: usize) -> &AtomicU64 {
        self.word(SLOT_WORDS * (proc + 1) + what)
    }

    fn get(&self, proc: usize, what: usize) -> u64 {
        self.slot(proc, what).load(Ordering::SeqCst)
    }

    fn set(&self, proc: usize, what: usize, value: u64) {
        self.slot(proc, what).store(value, Ordering::SeqCst)
    }
}

fn map(len: usize, flags: i32, file: Option<&File>) -> std::io::Result<*mut u8> {
    let fd = file.map_or(-1, |f| f.as_raw_fd());
    // SAFETY: a new mapping at a place of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// The pseudo-random content of data page `k` of process `proc`: word `w`
/// (from 1) is that of a xorshift64 sequence, masked with `mask` (all ones:
/// incompressible; [`HALF_COMPRESSIBLE`]: half of each byte's bits).
fn page_words(proc: usize, k: u64, mask: u64) -> impl Iterator<Item = (usize, u64)> {
    let mut x = (proc as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (k + 1).wrapping_mul(0xd1b5_4a32_d192_ed03)
        | 1;
    (1..WORDS).map(move |w| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (w, x & mask)
    })
}

/// The mask of `--fill half`: 4 random bits in each byte.
const HALF_COMPRESSIBLE: u64 = 0x0f0f_0f0f_0f0f_0f0f;

fn fill_page(page: *mut u64, proc: usize, k: u64, mask: u64) {
    for (w, x) in page_words(proc, k, mask) {
        // SAFETY: within the page.
        unsafe { page.add(w).write_volatile(x) };
    }
}

/// Whether data page `k` holds its pseudo-random content.
fn page_ok(page: *const u64, proc: usize, k: u64, mask: u64) -> bool {
    // SAFETY: within the page.
    page_words(proc, k, mask).all(|(w, x)| unsafe { page.add(w).read_volatile() } == x)
}

/// The iteration that last wrote data page `k` of `pages` once `n`
/// iterations are complete (0: none did). Iteration `i` writes the data
/// pages numbered `(i - 1) * WINDOW + j` modulo `pages`, `j < WINDOW`.
fn expected_stamp(k: u64, n: u64, pages: u64) -> u64 {
    let writes = n * WINDOW;
    if writes <= k {
        return 0;
    }
    let last = k + pages * ((writes - 1 - k) / pages);
    last / WINDOW + 1
}

struct Workload {
    mib: usize,
    stride: usize,
    children: usize,
    stats: String,
    /// Mask of the data words (`--fill random` or `half`).
    mask: u64,
}

fn parse_workload(args: &[&str]) -> Option<Workload> {
    let mut w = Workload {
        mib: 0,
        stride: 1,
        children: 0,
        stats: String::new(),
        mask: u64::MAX,
    };
    let mut it = args.iter();
    while let Some(&opt) = it.next() {
        let val = *it.next()?;
        match opt {
            "--mib" => w.mib = val.parse().ok()?,
            "--stride" => w.stride = val.parse().ok()?,
            "--children" => w.children = val.parse().ok()?,
            "--stats" => w.stats = val.to_string(),
            "--fill" if val == "random" => w.mask = u64::MAX,
            "--fill" if val == "half" => w.mask = HALF_COMPRESSIBLE,
            _ => return None,
        }
    }
    let pages = (w.mib << 20) / PAGE;
    (w.mib > 0
        && w.stride > 0
        && pages >= w.stride
        && w.children < MAX_PROCS
        && !w.stats.is_empty())
    .then_some(w)
}

/// `bench-workload --mib N [--stride S] [--children K] [--fill random|half]
/// --stats FILE`: a
/// session of its own (CRIU dumps only whole sessions without
/// `--shell-job`), K children forked, each process with its own memory as
/// described above, running the loop forever.
pub fn workload(args: &[&str]) -> ExitCode {
    let Some(w) = parse_workload(args) else {
        eprintln!(
            "usage: chpox-testprog bench-workload --mib N [--stride S] [--children K] \
             [--fill random|half] --stats FILE"
        );
        return ExitCode::from(2);
    };
    let _ = nix::unistd::setsid();
    let stats = match Stats::open(&w.stats, true) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("testprog: {}: {e}", w.stats);
            return ExitCode::FAILURE;
        }
    };
    stats.word(0).store(w.children as u64 + 1, Ordering::SeqCst);
    let mut me = 0;
    for i in 1..=w.children {
        // SAFETY: single-threaded; the child goes on to the loop below.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                me = i;
                break;
            }
            Ok(nix::unistd::ForkResult::Parent { .. }) => {}
            Err(e) => {
                eprintln!("testprog: fork: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    run(&stats, me, &w)
}

fn run(stats: &Stats, me: usize, w: &Workload) -> ExitCode {
    let len = w.mib << 20;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let base = match map(len, flags, None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("testprog: mmap of {} MiB: {e}", w.mib);
            return ExitCode::FAILURE;
        }
    };
    let pages = (len / PAGE / w.stride) as u64;
    // SAFETY: data page k is page k * stride of the mapping.
    let page = |k: u64| unsafe { base.add(k as usize * w.stride * PAGE) }.cast::<u64>();
    for k in 0..pages {
        fill_page(page(k), me, k, w.mask);
    }
    stats.set(me, PID, std::process::id().into());
    let mut n: u64 = 0;
    let mut max = 0u64;
    let mut last = Instant::now();
    loop {
        let now = Instant::now();
        let gap = now.duration_since(last).as_nanos() as u64;
        last = now;
        let req = stats.get(me, RESET_REQ);
        if req != stats.get(me, RESET_ACK) {
            max = 0;
            stats.set(me, STALL, 0);
            stats.set(me, RESET_ACK, req);
        } else if gap > max {
            max = gap;
            stats.set(me, STALL, max);
        }
        let req = stats.get(me, VERIFY_REQ);
        if req != stats.get(me, VERIFY_ACK) {
            let bad = verify(&page, me, n, pages, w);
            stats.set(me, VERIFY_BAD, bad);
            stats.set(me, VERIFY_ACK, req);
            last = Instant::now();
        }
        for j in 0..WINDOW {
            let k = (n * WINDOW + j) % pages;
            // SAFETY: the first word of a data page.
            unsafe { page(k).write_volatile(n + 1) };
        }
        n += 1;
        stats.set(me, ITERS, n);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The number of wrong pages after `n` iterations: data pages with another
/// content or stamp, and (sparse mappings) the page after each data page,
/// never written, if it is not all zero.
fn verify(page: &dyn Fn(u64) -> *mut u64, me: usize, n: u64, pages: u64, w: &Workload) -> u64 {
    let mut bad = 0;
    for k in 0..pages {
        let p = page(k);
        // SAFETY: the first word of a data page.
        let stamp = unsafe { p.read_volatile() };
        if stamp != expected_stamp(k, n, pages) || !page_ok(p, me, k, w.mask) {
            bad += 1;
        }
        if w.stride > 1 {
            // SAFETY: page k * stride + 1 < the mapping's pages, stride > 1.
            let gap = unsafe { p.add(WORDS) };
            // SAFETY: within that page.
            if (0..WORDS).any(|i| unsafe { gap.add(i).read_volatile() } != 0) {
                bad += 1;
            }
        }
    }
    bad
}

fn alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `done` every 100 µs until it is true; an error once `timeout`
/// has passed or `done` says why it never will be.
fn poll(
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Every process of the workload still exists.
fn all_alive(stats: &Stats) -> Result<bool, String> {
    for p in 0..stats.procs() {
        let pid = stats.get(p, PID);
        if pid != 0 && !alive(pid) {
            return Err(format!("process {p} (pid {pid}) is gone"));
        }
    }
    Ok(true)
}

/// The fields of `pid`'s line in /proc/chpox.
fn chpox_line(pid: &str) -> Result<String, String> {
    let text = std::fs::read_to_string("/proc/chpox").map_err(|e| format!("/proc/chpox: {e}"))?;
    let prefix = format!("pid={pid} ");
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .ok_or_else(|| format!("pid {pid} is not registered"))
}

fn chpox_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

/// Spawns `cmd` with stdin from /dev/null and stdout and stderr appended to
/// `log`.
fn spawn(log: &str, cmd: &[&str]) -> Result<std::process::Child, String> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{log}: {e}"))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{}: {e}", cmd[0]))
}

/// Waits for `pid` (WNOHANG if `nohang`): its exit status and maximum
/// resident set in KiB, None if it still runs.
fn wait4(pid: u32, nohang: bool) -> Result<Option<(i32, i64)>, String> {
    let mut status = 0;
    // SAFETY: plain data, filled by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if nohang { libc::WNOHANG } else { 0 };
    // SAFETY: valid pointers to the locals above.
    let r = unsafe { libc::wait4(pid as i32, &mut status, flags, &mut usage) };
    match r {
        0 => Ok(None),
        r if r < 0 => Err(format!("wait4: {}", std::io::Error::last_os_error())),
        _ => {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            Ok(Some((code, usage.ru_maxrss)))
        }
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `bench-ctl FILE ACTION...`: the driver's side; prints `key=value` words.
///
/// - `ready MIN_ITERS`: waits until every process has filled its memory and
///   made MIN_ITERS iterations; prints `pids=PID,PID...`.
/// - `reset-stall`: resets every process's largest gap and waits for it.
/// - `stall`: waits for two more iterations of every process (so that a
///   gap that is still going on is over), prints the largest gap since the
///   reset, `stall_ms=`.
/// - `chpox-dump PID SIG`: sends SIG to PID, waits until its checkpoint
///   count in /proc/chpox goes up, prints `ms=` and `iters=`, the
///   iterations the processes made meanwhile.
/// - `run LOG CMD...`: runs CMD (output to LOG), prints `ms=`, `rss_kib=`
///   (its maximum resident set), fails as CMD does.
/// - `restore LOG [--detached] CMD...`: zeroes the iteration counts and
///   starts CMD (output to LOG); prints `ms=` once every process has made
///   an iteration after a first one is seen (running again and making
///   progress), then `rss_kib=`: with `--detached` CMD's maximum resident
///   set once it has exited, otherwise CMD's `VmHWM` at that moment (CMD
///   is left running); and `pid=`, CMD's pid.
/// - `verify`: asks every process to check its memory, waits; prints
///   `bad=` (pages wrong, all processes) and fails if it is not 0.
pub fn ctl(args: &[&str]) -> ExitCode {
    let result = match args {
        [file, rest @ ..] if !rest.is_empty() => Stats::open(file, false)
            .map_err(|e| format!("{file}: {e}"))
            .and_then(|s| ctl_action(&s, rest)),
        _ => Err("usage: chpox-testprog bench-ctl FILE ACTION...".to_string()),
    };
    match result {
        Ok(words) => {
            println!("{words}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-ctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ctl_action(stats: &Stats, args: &[&str]) -> Result<String, String> {
    let long = Duration::from_secs(900);
    match args {
        ["ready", min] => {
            let min: u64 = min.parse().map_err(|_| "ready needs a number")?;
            poll(long, "the workload to start", || {
                let n = stats.procs();
                Ok(n > 0
                    && (0..n).all(|p| stats.get(p, PID) != 0 && stats.get(p, ITERS) >= min)
                    && all_alive(stats)?)
            })?;
            let pids: Vec<String> = (0..stats.procs())
                .map(|p| stats.get(p, PID).to_string())
                .collect();
            Ok(format!("pids={}", pids.join(",")))
        }
        ["reset-stall"] => {
            for p in 0..stats.procs() {
                stats.set(p, RESET_REQ, stats.get(p, RESET_ACK) + 1);
            }
            poll(long, "the stall reset", || {
                Ok(
                    (0..stats.procs()).all(|p| stats.get(p, RESET_ACK) == stats.get(p, RESET_REQ))
                        && all_alive(stats)?,
                )
            })?;
            Ok(String::new())
        }
        ["stall"] => {
            let from: Vec<u64> = (0..stats.procs()).map(|p| stats.get(p, ITERS)).collect();
            poll(long, "two more iterations", || {
                Ok(
                    (0..stats.procs()).all(|p| stats.get(p, ITERS) >= from[p] + 2)
                        && all_alive(stats)?,
                )
            })?;
            let max = (0..stats.procs())
                .map(|p| stats.get(p, STALL))
                .max()
                .unwrap_or(0);
            Ok(format!("stall_ms={:.1}", max as f64 / 1e6))
        }
        ["chpox-dump", pid, sig] => {
            let sig: i32 = sig
                .parse()
                .map_err(|_| "chpox-dump needs a signal number")?;
            let target: i32 = pid.parse().map_err(|_| "chpox-dump needs a pid")?;
            let before = chpox_line(pid)?;
            let count = |l: &str| chpox_field(l, "checkpoints").and_then(|c| c.parse::<u64>().ok());
            let n0 = count(&before).ok_or("no checkpoints field")?;
            let iterations = || (0..stats.procs()).map(|p| stats.get(p, ITERS)).sum::<u64>();
            let iters0 = iterations();
            let start = Instant::now();
            // SAFETY: kill(2) with plain numbers.
            if unsafe { libc::kill(target, sig) } != 0 {
                return Err(format!("kill: {}", std::io::Error::last_os_error()));
            }
            poll(long, "the checkpoint", || {
                let line = chpox_line(pid)?;
                if count(&line).is_some_and(|n| n > n0) {
                    return Ok(true);
                }
                if line != before && chpox_field(&line, "last") == Some("failed") {
                    return Err(format!("checkpoint failed: {line}"));
                }
                Ok(false)
            })?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            Ok(format!(
                "ms={ms:.0} iters={}",
                iterations().saturating_sub(iters0)
            ))
        }
        ["run", log, cmd @ ..] if !cmd.is_empty() => {
            let start = Instant::now();
            let child = spawn(log, cmd)?;
            let (code, rss) = wait4(child.id(), false)?.ok_or("wait4 returned nothing")?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            if code != 0 {
                return Err(format!("{} exited with status {code} (see {log})", cmd[0]));
            }
            Ok(format!("ms={ms:.0} rss_kib={rss}"))
        }
        ["restore", log, rest @ ..] => {
            let (detached, cmd) = match rest {
                ["--detached", cmd @ ..] => (true, cmd),
                cmd => (false, cmd),
            };
            if cmd.is_empty() {
                return Err("restore needs a command".into());
            }
            let n = stats.procs();
            for p in 0..n {
                stats.set(p, ITERS, 0);
            }
            let mut first = vec![0u64; n];
            let start = Instant::now();
            let child = spawn(log, cmd)?;
            let pid = child.id();
            let mut exited = None;
            poll(long, "the restored workload to make progress", || {
                for (p, f) in first.iter_mut().enumerate() {
                    if *f == 0 {
                        *f = stats.get(p, ITERS);
                    }
                }
                if (0..n).all(|p| first[p] != 0 && stats.get(p, ITERS) != first[p]) {
                    return Ok(true);
                }
                if exited.is_none() {
                    exited = wait4(pid, true)?;
                    if let Some((code, _)) = exited {
                        if code != 0 {
                            return Err(format!(
                                "{} exited with status {code} (see {log})",
                                cmd[0]
                            ));
                        }
                    }
                }
                Ok(false)
            })?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let rss = if detached {
                match exited {
                    Some((_, rss)) => rss as u64,
                    None => wait4(pid, false)?.ok_or("wait4 returned nothing")?.1 as u64,
                }
            } else {
                vm_hwm_kib(pid).ok_or("no VmHWM for the restorer")?
            };
            Ok(format!("ms={ms:.0} rss_kib={rss} pid={pid}"))
        }
        ["verify"] => {
            for p in 0..stats.procs() {
                stats.set(p, VERIFY_REQ, stats.get(p, VERIFY_ACK) + 1);
            }
            poll(long, "the memory check", || {
                Ok(
                    (0..stats.procs())
                        .all(|p| stats.get(p, VERIFY_ACK) == stats.get(p, VERIFY_REQ))
                        && all_alive(stats)?,
                )
            })?;
            let bad: u64 = (0..stats.procs()).map(|p| stats.get(p, VERIFY_BAD)).sum();
            if bad == 0 {
                Ok("bad=0".into())
            } else {
                Err(format!("bad={bad}"))
            }
        }
        _ => Err(format!("unknown action {args:?}")),
    }
}

/// `bench-reaper CMD...`: runs CMD as a child subreaper and reaps every
/// orphan until CMD exits (the tree CRIU or ld-chpox restores outlives its
/// restorer; its pids must be free again for the next restore, whatever the
/// guest's init does); exits as CMD does.
pub fn reaper(cmd: &[&str]) -> ExitCode {
    // SAFETY: prctl with plain numbers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!(
            "testprog: PR_SET_CHILD_SUBREAPER: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    let child = match Command::new(cmd[0]).args(&cmd[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("testprog: {}: {e}", cmd[0]);
            return ExitCode::from(127);
        }
    };
    loop {
        let mut status = 0;
        // SAFETY: a valid pointer to a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            return ExitCode::FAILURE;
        }
        if pid as u32 == child.id() {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            return ExitCode::from(code as u8);
        }
    }
}

/// `checksum-speed MIB`: the time of the dump's checksum over MIB MiB of
/// random pages, a page at a time as the module and ld-chpox take them,
/// beside a plain copy of the same bytes: what the checksum costs a dump
/// and a restore on this machine (under TCG its cost is not that of
/// hardware; see Documentation/performance.rst).
pub fn checksum_speed(mib: &str) -> ExitCode {
    let Some(mib) = mib.parse::<usize>().ok().filter(|m| (1..=4096).contains(m)) else {
        eprintln!("checksum-speed: MIB from 1 to 4096");
        return ExitCode::FAILURE;
    };
    let len = mib << 20;
    // The workload's incompressible pages.
    let mut data = vec![0u8; len];
    for (k, page) in data.chunks_exact_mut(PAGE).enumerate() {
        for (w, x) in page_words(0, k as u64, u64::MAX) {
            page[w * 8..w * 8 + 8].copy_from_slice(&x.to_le_bytes());
        }
    }
    let start = Instant::now();
    let folded = data.chunks(PAGE).fold(0u32, |acc, page| {
        acc ^ chpox_abi::checksum::Checksum::of(page)
    });
    let checksum_s = start.elapsed().as_secs_f64();
    // Touched before the clock starts, so that the copy pays no page fault.
    let mut copy = vec![1u8; len];
    std::hint::black_box(&mut copy);
    let start = Instant::now();
    copy.copy_from_slice(&data);
    let copy_s = start.elapsed().as_secs_f64();
    println!(
        "checksum of {mib} MiB a page at a time: {checksum_s:.3} s; copy of the same bytes: \
         {copy_s:.3} s ({folded:08x} {})",
        copy[len - 1]
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stamp formula against a simulation of the loop.
    #[test]
    fn stamps() {
        for pages in [1u64, 5, 16, 17, 40] {
            let mut sim = vec![0u64; pages as usize];
            for n in 0..50u64 {
                for (k, &s) in sim.iter().enumerate() {
                    assert_eq!(
                        expected_stamp(k as u64, n, pages),
                        s,
                        "pages {pages} n {n} k {k}"
                    );
                }
                for j in 0..WINDOW {
                    sim[((n * WINDOW + j) % pages) as usize] = n + 1;
                }
            }
        }
    }
}
