// SPDX-License-Identifier: GPL-2.0

//! Multithreaded programs (issue 11): each runs a few seconds so that a
//! checkpoint can land in the middle, prints "ready" once it is where the
//! test wants to checkpoint it, and prints only lines whose content and
//! order do not depend on timing: the output of a restored run must equal
//! an uninterrupted one. Every program ends with a known exit status.

use nix::libc;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

fn getpid() -> i32 {
    // SAFETY: as gettid.
    unsafe { libc::getpid() }
}

fn tgkill(pid: i32, tid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: tgkill takes three integers.
    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn nap_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The system call thread TID of this process is blocked in (the first
/// field of /proc/self/task/TID/syscall), None if it runs or is unknown.
fn in_syscall(tid: i32) -> Option<i64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Waits (at most 30 s) until thread TID is blocked in system call NR.
fn wait_blocked(tid: &AtomicI32, nr: i64) -> bool {
    for _ in 0..3000 {
        let t = tid.load(Ordering::SeqCst);
        if t != 0 && in_syscall(t) == Some(nr) {
            return true;
        }
        nap_ms(10);
    }
    false
}

/// Waits (at most 60 s) until `cond` holds, polling every 10 ms.
fn wait_for(cond: impl Fn() -> bool) -> bool {
    for _ in 0..6000 {
        if cond() {
            return true;
        }
        nap_ms(10);
    }
    false
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Option<T> {
    let n = s.parse().ok();
    if n.is_none() {
        eprintln!("testprog: {what} needs a number, not {s:?}");
    }
    n
}

fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Threads taking turns, so that lines they print come in a fixed order.
struct Turns {
    turn: Mutex<usize>,
    cv: Condvar,
}

impl Turns {
    fn new() -> Self {
        Turns {
            turn: Mutex::new(0),
            cv: Condvar::new(),
        }
    }
    /// Waits for turn `me`, runs `f`, hands the turn to `next`.
    fn take(&self, me: usize, next: usize, f: impl FnOnce()) {
        let mut turn = self
            .cv
            .wait_while(self.turn.lock().unwrap(), |t| *t != me)
            .unwrap();
        f();
        *turn = next;
        self.cv.notify_all();
    }
}

/// `thread-linkage STEPS`: the BLCR linkage pattern. The main thread starts
/// two threads that each print STEPS progress lines 0.1 s apart (taking
/// turns: the order is fixed) and end; main joins them, starts two more
/// that do the same, joins them and exits with status 3. A checkpoint can
/// land during either pair: threads created and joined before it must not
/// come back, threads created after it must be created anew, and the join
/// (a futex on the thread's clear_child_tid word) must still work.
pub fn thread_linkage(steps: &str) -> ExitCode {
    let Some(steps) = number::<u32>("thread-linkage", steps) else {
        return ExitCode::from(2);
    };
    say("ready");
    for pair in 1..=2 {
        let turns = Arc::new(Turns::new());
        let handles: Vec<_> = (0..2)
            .map(|me| {
                let turns = turns.clone();
                std::thread::spawn(move || {
                    let tid = gettid();
                    for step in 1..=steps {
                        nap_ms(100);
                        turns.take(me, 1 - me, || {
                            say(&format!("pair {pair} thread {me} step {step}"));
                        });
                    }
                    tid == gettid()
                })
            })
            .collect();
        let same_tid = handles.into_iter().all(|h| h.join().unwrap_or(false));
        say(&format!(
            "pair {pair} joined{}",
            if same_tid {
                ""
            } else {
                " (A THREAD'S TID CHANGED)"
            }
        ));
    }
    say("linkage done");
    ExitCode::from(3)
}

/// `prodcons ITEMS INTERVAL_MS`: a producer thread passes ITEMS numbered
/// items, one every INTERVAL_MS, through a bounded queue (a std Mutex and
/// two Condvars, futex-based) to a consumer thread, which checks that they
/// arrive in order, none lost or doubled, prints a line every 50 items and
/// a count and checksum at the end. Exit 0 only if all arrived in order.
pub fn prodcons(items: &str, interval: &str) -> ExitCode {
    let (Some(items), Some(interval)) = (
        number::<u64>("prodcons", items),
        number::<u64>("prodcons", interval),
    ) else {
        return ExitCode::from(2);
    };
    const CAPACITY: usize = 4;
    struct Queue {
        items: Mutex<std::collections::VecDeque<Option<u64>>>,
        not_empty: Condvar,
        not_full: Condvar,
    }
    let q = Arc::new(Queue {
        items: Mutex::new(std::collections::VecDeque::new()),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    let push = |q: &Queue, item: Option<u64>| {
        let mut v = q
            .not_full
            .wait_while(q.items.lock().unwrap(), |v| v.len() >= CAPACITY)
            .unwrap();
        v.push_back(item);
        q.not_empty.notify_one();
    };
    let qp = q.clone();
    let producer = std::thread::spawn(move || {
        for i in 1..=items {
            push(&qp, Some(i));
            nap_ms(interval);
        }
        push(&qp, None);
    });
    let qc = q.clone();
    let consumer = std::thread::spawn(move || {
        let (mut next, mut sum, mut bad) = (1u64, 0u64, 0u64);
        loop {
            let item = {
                let mut v = qc
                    .not_empty
                    .wait_while(qc.items.lock().unwrap(), |v| v.is_empty())
                    .unwrap();
                let item = v.pop_front().unwrap();
                qc.not_full.notify_one();
                item
            };
            let Some(i) = item else { break };
            if i != next {
                say(&format!("OUT OF ORDER: got {i}, expected {next}"));
                bad += 1;
            }
            next = i + 1;
            sum = sum.wrapping_mul(31).wrapping_add(i);
            if i % 50 == 0 {
                say(&format!("consumed {i}"));
            }
        }
        (next - 1, sum, bad)
    });
    say("ready");
    producer.join().expect("producer");
    let (last, sum, bad) = consumer.join().expect("consumer");
    let ok = bad == 0 && last == items;
    say(&format!("prodcons: last item {last}, checksum {sum:016x}"));
    say(if ok { "prodcons ok" } else { "prodcons BAD" });
    status(ok)
}

thread_local! {
    /// Each thread's own counter, reached through the fs base.
    static TLS_COUNT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// `tls-threads N SECONDS`: N busy threads (a 10 ms pause every 256
/// rounds) each increment a thread_local!
/// counter (addressed through the fs base, so a thread restored with
/// another thread's TLS would count into the wrong one), a per-thread slot
/// in ordinary memory and a shared atomic, until main says stop after
/// SECONDS. Each thread then checks its TLS counter equals its slot, that
/// gettid() is the tid it had at start, and that glibc's own idea of the
/// thread (pthread_self(), its cached tid through pthread_kill(self, 0))
/// agrees; main checks the slots add up to the atomic. Prints "tls ok".
pub fn tls_threads(n: &str, secs: &str) -> ExitCode {
    let (Some(n), Some(secs)) = (
        number::<usize>("tls-threads", n),
        number::<u64>("tls-threads", secs),
    ) else {
        return ExitCode::from(2);
    };
    static STOP: AtomicBool = AtomicBool::new(false);
    static TOTAL: AtomicU64 = AtomicU64::new(0);
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let slots: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let slots = slots.clone();
            std::thread::spawn(move || {
                let tid = gettid();
                // SAFETY: pthread_self has no preconditions.
                let me = unsafe { libc::pthread_self() };
                STARTED.fetch_add(1, Ordering::SeqCst);
                let mut rounds = 0u64;
                while !STOP.load(Ordering::Relaxed) {
                    TLS_COUNT.with(|c| c.set(c.get() + 1));
                    slots[i].fetch_add(1, Ordering::Relaxed);
                    TOTAL.fetch_add(1, Ordering::Relaxed);
                    rounds += 1;
                    // A pause now and then, so that 64 of them leave the
                    // (emulated, two-CPU) test machine's shell some time:
                    // a checkpoint finds some threads in user mode, some in
                    // nanosleep.
                    if rounds % 256 == 0 {
                        nap_ms(10);
                    }
                }
                let mut bad = Vec::new();
                let tls = TLS_COUNT.with(|c| c.get());
                let slot = slots[i].load(Ordering::SeqCst);
                if tls != slot {
                    bad.push(format!("thread {i}: TLS counter {tls}, own slot {slot}"));
                }
                if gettid() != tid {
                    bad.push(format!("thread {i}: tid {} was {tid}", gettid()));
                }
                // SAFETY: as above; pthread_kill with signal 0 only checks
                // that glibc's cached tid of the thread names a live thread.
                if unsafe { libc::pthread_self() } != me {
                    bad.push(format!("thread {i}: pthread_self changed"));
                } else if unsafe { libc::pthread_kill(me, 0) } != 0 {
                    bad.push(format!("thread {i}: pthread_kill(self, 0) failed"));
                }
                bad
            })
        })
        .collect();
    wait_for(|| STARTED.load(Ordering::SeqCst) == n);
    say(&format!("tls-threads: {n} threads"));
    say("ready");
    for _ in 0..secs * 10 {
        nap_ms(100);
    }
    STOP.store(true, Ordering::SeqCst);
    let mut bad: Vec<String> = handles
        .into_iter()
        .flat_map(|h| {
            h.join()
                .unwrap_or_else(|_| vec!["a thread panicked".into()])
        })
        .collect();
    let sum: u64 = slots.iter().map(|s| s.load(Ordering::SeqCst)).sum();
    let total = TOTAL.load(Ordering::SeqCst);
    if sum != total {
        bad.push(format!(
            "slots add up to {sum}, the shared counter is {total}"
        ));
    }
    if bad.is_empty() {
        say("tls ok");
        ExitCode::SUCCESS
    } else {
        for line in &bad {
            say(&format!("TLS BAD: {line}"));
        }
        ExitCode::FAILURE
    }
}

// --- thread-signals -----------------------------------------------------

/// Who ran the SIGUSR1 handler, and how often.
static USR1_TID: AtomicI32 = AtomicI32::new(0);
static USR1_COUNT: AtomicU32 = AtomicU32::new(0);
/// Thread C's alternate stack, and the SIGURG handler's findings.
static ALT_BASE: AtomicUsize = AtomicUsize::new(0);
static ALT_SIZE: AtomicUsize = AtomicUsize::new(0);
static URG_STEPS: AtomicU64 = AtomicU64::new(0);
static URG_IN: AtomicBool = AtomicBool::new(false);
static URG_RUNS: AtomicU32 = AtomicU32::new(0);
static URG_ON_ALT: AtomicU32 = AtomicU32::new(0);
static URG_TID: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    USR1_TID.store(gettid(), Ordering::SeqCst);
    USR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Whether this code runs on thread C's alternate stack: a local's address
/// lies inside it and the kernel says so (SS_ONSTACK).
#[inline(never)]
fn on_altstack() -> bool {
    let local = 0u8;
    let addr = std::hint::black_box(&local) as *const u8 as usize;
    let base = ALT_BASE.load(Ordering::SeqCst);
    let size = ALT_SIZE.load(Ordering::SeqCst);
    // SAFETY: a zeroed stack_t is valid; sigaltstack only writes to it.
    let mut ss: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: queries the alternate stack; async-signal-safe.
    let queried = unsafe { libc::sigaltstack(std::ptr::null(), &mut ss) } == 0;
    queried
        && (base..base + size).contains(&addr)
        && ss.ss_flags & libc::SS_ONSTACK != 0
        && ss.ss_sp as usize == base
        && ss.ss_size == size
}

/// SIGURG (SA_ONSTACK): checks it runs on the alternate stack, sleeps
/// URG_STEPS times 0.1 s (a checkpoint lands here), checks again.
extern "C" fn on_urg(_: libc::c_int) {
    URG_TID.store(gettid(), Ordering::SeqCst);
    let before = on_altstack();
    URG_IN.store(true, Ordering::SeqCst);
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    for _ in 0..URG_STEPS.load(Ordering::SeqCst) {
        // SAFETY: nanosleep is async-signal-safe.
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    }
    let after = on_altstack();
    if before && after {
        URG_ON_ALT.fetch_add(1, Ordering::SeqCst);
    }
    URG_IN.store(false, Ordering::SeqCst);
    URG_RUNS.fetch_add(1, Ordering::SeqCst);
}

fn sigset(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset with valid numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Signals whose blocked state the program compares.
const WATCHED: [i32; 7] = [
    libc::SIGUSR1,
    libc::SIGURG,
    libc::SIGHUP,
    libc::SIGWINCH,
    libc::SIGPWR,
    libc::SIGXCPU,
    libc::SIGTTIN,
];

fn set_mask(sigs: &[i32]) {
    let set = sigset(sigs);
    // SAFETY: a valid set; the old mask is not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
}

/// Which watched signals this thread blocks.
fn blocked() -> Vec<i32> {
    // SAFETY: queries the mask into a zeroed set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut set);
        WATCHED
            .iter()
            .copied()
            .filter(|&s| libc::sigismember(&set, s) == 1)
            .collect()
    }
}

/// Whether SIGUSR1 is pending for this thread (its own or the process's).
fn usr1_pending() -> bool {
    // SAFETY: sigpending fills a zeroed set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set);
        libc::sigismember(&set, libc::SIGUSR1) == 1
    }
}

fn fact(lines: &mut Vec<String>, ok: bool, good: &str, bad: String) -> bool {
    lines.push(if ok { good.to_string() } else { bad });
    ok
}

/// `thread-signals SECONDS`: per-thread signal state. Thread A blocks
/// SIGUSR1 (with SIGURG, SIGWINCH), B blocks SIGURG and SIGPWR, C blocks
/// SIGUSR1 and SIGXCPU and has its own sigaltstack, main blocks SIGUSR1,
/// SIGURG and SIGHUP. Main sends SIGUSR1 with tgkill to A alone: it stays
/// pending for A (B, which would take a process-wide SIGUSR1, sees none).
/// Main sends SIGURG to C: its SA_ONSTACK handler runs on C's altstack and
/// sleeps SECONDS there ("ready": checkpoint now). After it returned (on the
/// altstack before and after the sleep), C raises SIGURG once more (on the
/// altstack again), every thread checks its mask is its own, and A unblocks
/// SIGUSR1, which must be handled by A. Exit 0 if all is as expected.
pub fn thread_signals(secs: &str) -> ExitCode {
    let Some(secs) = number::<u64>("thread-signals", secs) else {
        return ExitCode::from(2);
    };
    // SAFETY: plain handlers that only touch atomics and sleep.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        sa.sa_sigaction = on_urg as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
        libc::sigaction(libc::SIGURG, &sa, std::ptr::null_mut());
    }
    static PHASE: AtomicU32 = AtomicU32::new(0);
    static A_TID: AtomicI32 = AtomicI32::new(0);
    static B_TID: AtomicI32 = AtomicI32::new(0);
    static C_TID: AtomicI32 = AtomicI32::new(0);
    static A_SAW: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicU32 = AtomicU32::new(0);
    let phase = |p: u32| wait_for(|| PHASE.load(Ordering::SeqCst) >= p);
    let main_mask = [libc::SIGUSR1, libc::SIGURG, libc::SIGHUP];
    set_mask(&main_mask);
    let a = std::thread::spawn(move || {
        let mask = [libc::SIGUSR1, libc::SIGURG, libc::SIGWINCH];
        set_mask(&mask);
        let mut lines = Vec::new();
        A_TID.store(gettid(), Ordering::SeqCst);
        phase(1); // main has sent SIGUSR1 to A
        A_SAW.store(usr1_pending(), Ordering::SeqCst);
        phase(2); // C's long handler is over (the checkpoint was in it)
        fact(
            &mut lines,
            usr1_pending() && USR1_COUNT.load(Ordering::SeqCst) == 0,
            "A: SIGUSR1 still pending for A, not handled",
            format!(
                "A: SIGUSR1 pending {}, handled {} times",
                usr1_pending(),
                USR1_COUNT.load(Ordering::SeqCst)
            ),
        );
        fact(
            &mut lines,
            blocked() == mask,
            "A: mask is its own",
            format!("A: mask {:?}, set {mask:?}", blocked()),
        );
        set_mask(&[libc::SIGURG, libc::SIGWINCH]);
        let (by, count) = (
            USR1_TID.load(Ordering::SeqCst),
            USR1_COUNT.load(Ordering::SeqCst),
        );
        fact(
            &mut lines,
            by == gettid() && count == 1,
            "A: unblocked, SIGUSR1 handled once, by A",
            format!(
                "A: SIGUSR1 handled {count} times, last by tid {by} (A is {})",
                gettid()
            ),
        );
        DONE.fetch_add(1, Ordering::SeqCst);
        lines
    });
    let b = std::thread::spawn(move || {
        let mask = [libc::SIGURG, libc::SIGPWR];
        set_mask(&mask);
        let mut lines = Vec::new();
        B_TID.store(gettid(), Ordering::SeqCst);
        phase(2);
        fact(
            &mut lines,
            !usr1_pending(),
            "B: no SIGUSR1 pending for B",
            "B: SIGUSR1 PENDING FOR B".into(),
        );
        fact(
            &mut lines,
            blocked() == mask,
            "B: mask is its own",
            format!("B: mask {:?}, set {mask:?}", blocked()),
        );
        DONE.fetch_add(1, Ordering::SeqCst);
        lines
    });
    let c = std::thread::spawn(move || {
        let mask = [libc::SIGUSR1, libc::SIGXCPU];
        set_mask(&mask);
        let mut lines = Vec::new();
        // The alternate stack: 64 KiB of this thread's heap.
        let mut stack = vec![0u8; 64 << 10];
        let ss = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: stack.len(),
        };
        ALT_BASE.store(stack.as_ptr() as usize, Ordering::SeqCst);
        ALT_SIZE.store(stack.len(), Ordering::SeqCst);
        // SAFETY: the stack outlives its use (the thread ends below).
        unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) };
        URG_STEPS.store(secs * 10, Ordering::SeqCst);
        C_TID.store(gettid(), Ordering::SeqCst);
        // Main's SIGURG interrupts one of these sleeps.
        wait_for(|| URG_RUNS.load(Ordering::SeqCst) == 1);
        fact(
            &mut lines,
            URG_TID.load(Ordering::SeqCst) == gettid(),
            "C: SIGURG handled by C",
            format!(
                "C: SIGURG handled by tid {}",
                URG_TID.load(Ordering::SeqCst)
            ),
        );
        fact(
            &mut lines,
            URG_ON_ALT.load(Ordering::SeqCst) == 1,
            "C: its long handler ran on its altstack before and after the sleep",
            "C: THE LONG HANDLER WAS NOT ON THE ALTSTACK".into(),
        );
        // SAFETY: queries the alternate stack.
        let mut now: libc::stack_t = unsafe { std::mem::zeroed() };
        unsafe { libc::sigaltstack(std::ptr::null(), &mut now) };
        fact(
            &mut lines,
            now.ss_sp == ss.ss_sp && now.ss_size == ss.ss_size && now.ss_flags == 0,
            "C: altstack still set, no longer on it",
            format!(
                "C: altstack {:?} size {} flags {}",
                now.ss_sp, now.ss_size, now.ss_flags
            ),
        );
        URG_STEPS.store(0, Ordering::SeqCst);
        let _ = tgkill(getpid(), gettid(), libc::SIGURG);
        fact(
            &mut lines,
            URG_RUNS.load(Ordering::SeqCst) == 2 && URG_ON_ALT.load(Ordering::SeqCst) == 2,
            "C: SIGURG raised again: handled on the altstack again",
            format!(
                "C: second SIGURG: {} runs, {} on the altstack",
                URG_RUNS.load(Ordering::SeqCst),
                URG_ON_ALT.load(Ordering::SeqCst)
            ),
        );
        fact(
            &mut lines,
            blocked() == mask,
            "C: mask is its own",
            format!("C: mask {:?}, set {mask:?}", blocked()),
        );
        phase(2);
        DONE.fetch_add(1, Ordering::SeqCst);
        drop(stack);
        lines
    });
    let mut ok = wait_for(|| {
        [&A_TID, &B_TID, &C_TID]
            .iter()
            .all(|t| t.load(Ordering::SeqCst) != 0)
    });
    say("thread-signals: 3 threads with their own masks");
    let pid = getpid();
    ok &= tgkill(pid, A_TID.load(Ordering::SeqCst), libc::SIGUSR1).is_ok();
    PHASE.store(1, Ordering::SeqCst);
    ok &= tgkill(pid, C_TID.load(Ordering::SeqCst), libc::SIGURG).is_ok();
    ok &= wait_for(|| URG_IN.load(Ordering::SeqCst));
    ok &= wait_for(|| A_SAW.load(Ordering::SeqCst));
    say("A: SIGUSR1 sent to A alone, pending");
    say("C: in its SIGURG handler");
    say("ready");
    ok &= wait_for(|| URG_RUNS.load(Ordering::SeqCst) >= 1);
    PHASE.store(2, Ordering::SeqCst);
    let mut lines = Vec::new();
    for h in [a, b, c] {
        lines.extend(
            h.join()
                .unwrap_or_else(|_| vec!["A THREAD PANICKED".into()]),
        );
    }
    let mut own = Vec::new();
    ok &= fact(
        &mut own,
        blocked() == main_mask,
        "main: mask is its own",
        format!("main: mask {:?}, set {main_mask:?}", blocked()),
    );
    ok &= DONE.load(Ordering::SeqCst) == 3;
    for line in lines.iter().chain(&own) {
        say(line);
    }
    let expected = [
        "A: SIGUSR1 still pending for A, not handled",
        "A: mask is its own",
        "A: unblocked, SIGUSR1 handled once, by A",
        "B: no SIGUSR1 pending for B",
        "B: mask is its own",
        "C: SIGURG handled by C",
        "C: its long handler ran on its altstack before and after the sleep",
        "C: altstack still set, no longer on it",
        "C: SIGURG raised again: handled on the altstack again",
        "C: mask is its own",
        "main: mask is its own",
    ];
    ok &= lines.iter().chain(&own).map(String::as_str).eq(expected);
    say(if ok { "signals ok" } else { "signals BAD" });
    status(ok)
}

// --- thread-sleepers ----------------------------------------------------

fn realtime_ms() -> i64 {
    // SAFETY: a zeroed timespec for clock_gettime to fill.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// `thread-sleepers SECONDS`: four threads blocked in system calls at
/// checkpoint time: clock_nanosleep for SECONDS, read() on a pipe main
/// writes to after SECONDS, a std Condvar wait and a raw FUTEX_WAIT that
/// main wakes after SECONDS. Main says "ready" once all four are blocked
/// (as /proc/self/task/TID/syscall shows). Each call must complete with its
/// right result, none with EINTR: the sleep returns 0 and not before
/// SECONDS of wall time passed (a restore only adds time), the read gets
/// main's bytes, the waits are woken by main. Exit 0 if all four are.
pub fn thread_sleepers(secs: &str) -> ExitCode {
    let Some(secs) = number::<u64>("thread-sleepers", secs) else {
        return ExitCode::from(2);
    };
    static SLEEP_TID: AtomicI32 = AtomicI32::new(0);
    static READ_TID: AtomicI32 = AtomicI32::new(0);
    static CV_TID: AtomicI32 = AtomicI32::new(0);
    static FUTEX_TID: AtomicI32 = AtomicI32::new(0);
    static WORD: AtomicU32 = AtomicU32::new(0);
    let sleeper = std::thread::spawn(move || {
        let start = realtime_ms();
        let ts = libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: 0,
        };
        SLEEP_TID.store(gettid(), Ordering::SeqCst);
        // SAFETY: a relative sleep; no remainder wanted.
        let rc =
            unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut()) };
        let slept = realtime_ms() - start;
        if rc == 0 && slept >= secs as i64 * 1000 - 20 {
            "nanosleep: returned 0 after the whole time".to_string()
        } else {
            format!("nanosleep: RETURNED {rc} AFTER {slept} ms")
        }
    });
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        eprintln!("testprog: pipe: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    let [rfd, wfd] = fds;
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        READ_TID.store(gettid(), Ordering::SeqCst);
        // SAFETY: reads into a buffer of its size.
        let n = unsafe { libc::read(rfd, buf.as_mut_ptr().cast(), buf.len()) };
        let err = std::io::Error::last_os_error();
        match n {
            14 if &buf[..14] == b"hello sleeper\n" => "read: got main's 14 bytes".to_string(),
            n if n < 0 => format!("read: FAILED: {err}"),
            n => format!(
                "read: GOT {:?}",
                String::from_utf8_lossy(&buf[..n as usize])
            ),
        }
    });
    let flag = Arc::new((Mutex::new(false), Condvar::new()));
    let f = flag.clone();
    let waiter = std::thread::spawn(move || {
        CV_TID.store(gettid(), Ordering::SeqCst);
        let (lock, cv) = &*f;
        let set = cv.wait_while(lock.lock().unwrap(), |set| !*set).unwrap();
        if *set {
            "condvar: woken by main".to_string()
        } else {
            "condvar: WOKEN WITHOUT THE FLAG".to_string()
        }
    });
    let futex = std::thread::spawn(move || {
        FUTEX_TID.store(gettid(), Ordering::SeqCst);
        // SAFETY: waits on a static word while it is 0; no timeout.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                WORD.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                0u32,
                std::ptr::null::<libc::timespec>(),
            )
        };
        let err = std::io::Error::last_os_error().raw_os_error();
        let woken = WORD.load(Ordering::SeqCst) == 1;
        // EAGAIN: the wait was entered (again) after main's store.
        if woken && (rc == 0 || err == Some(libc::EAGAIN)) {
            "futex: woken by main".to_string()
        } else {
            format!(
                "futex: RETURNED {rc} ({err:?}), word {}",
                WORD.load(Ordering::SeqCst)
            )
        }
    });
    let blocked = wait_blocked(&SLEEP_TID, libc::SYS_clock_nanosleep)
        && wait_blocked(&READ_TID, libc::SYS_read)
        && wait_blocked(&CV_TID, libc::SYS_futex)
        && wait_blocked(&FUTEX_TID, libc::SYS_futex);
    say(if blocked {
        "sleepers: all four blocked"
    } else {
        "sleepers: NOT ALL BLOCKED"
    });
    say("ready");
    for _ in 0..secs * 10 {
        nap_ms(100);
    }
    let msg = b"hello sleeper\n";
    // SAFETY: writes the message from its buffer.
    let wrote = unsafe { libc::write(wfd, msg.as_ptr().cast(), msg.len()) };
    *flag.0.lock().unwrap() = true;
    flag.1.notify_all();
    WORD.store(1, Ordering::SeqCst);
    // SAFETY: wakes the waiters of the static word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            WORD.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
    let mut ok = blocked && wrote == msg.len() as isize;
    for h in [sleeper, reader, waiter, futex] {
        let line = h.join().unwrap_or_else(|_| "A THREAD PANICKED".into());
        ok &= !line.contains(|c: char| c.is_ascii_uppercase());
        say(&line);
    }
    say(if ok { "sleepers ok" } else { "sleepers BAD" });
    status(ok)
}

// --- robust and priority-inheritance mutexes ----------------------------

/// A pthread mutex with the given attributes, at a fixed address.
struct PMutex(Box<std::cell::UnsafeCell<libc::pthread_mutex_t>>);
// SAFETY: a pthread mutex is made to be shared between threads.
unsafe impl Send for PMutex {}
unsafe impl Sync for PMutex {}

impl PMutex {
    fn new(robust: bool, pi: bool) -> Self {
        // SAFETY: the attribute object is initialised before use and
        // destroyed after; the mutex is initialised in place and never moves.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            if robust {
                libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            }
            if pi {
                libc::pthread_mutexattr_setprotocol(&mut attr, libc::PTHREAD_PRIO_INHERIT);
            }
            let m = PMutex(Box::new(std::cell::UnsafeCell::new(std::mem::zeroed())));
            libc::pthread_mutex_init(m.0.get(), &attr);
            libc::pthread_mutexattr_destroy(&mut attr);
            m
        }
    }
    fn lock(&self) -> i32 {
        // SAFETY: an initialised mutex.
        unsafe { libc::pthread_mutex_lock(self.0.get()) }
    }
    /// Locks, giving up after `secs` seconds of wall time (ETIMEDOUT).
    fn lock_within(&self, secs: i64) -> i32 {
        // SAFETY: a zeroed timespec filled by clock_gettime; an initialised
        // mutex.
        unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
            ts.tv_sec += secs as libc::time_t;
            libc::pthread_mutex_timedlock(self.0.get(), &ts)
        }
    }
    fn unlock(&self) -> i32 {
        // SAFETY: an initialised mutex.
        unsafe { libc::pthread_mutex_unlock(self.0.get()) }
    }
    fn consistent(&self) -> i32 {
        // SAFETY: an initialised robust mutex.
        unsafe { libc::pthread_mutex_consistent(self.0.get()) }
    }
}

fn errno_name(e: i32) -> String {
    match e {
        0 => "0".into(),
        libc::EOWNERDEAD => "EOWNERDEAD".into(),
        libc::ETIMEDOUT => "ETIMEDOUT".into(),
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE".into(),
        e => std::io::Error::from_raw_os_error(e).to_string(),
    }
}

/// `robust-mutex SECONDS`: a thread locks a process-private robust mutex,
/// holds it SECONDS (main says "ready": checkpoint now, while it holds the
/// lock) and ends without unlocking. Main, blocked locking the mutex, must
/// get EOWNERDEAD: the kernel marks the owner dead at thread exit only
/// through the robust list registered with set_robust_list (and only if the
/// owner tid in the mutex word is still the thread's). Main makes the mutex
/// consistent, unlocks and locks it again, prints "EOWNERDEAD ok", exits 0.
/// Waits at most SECONDS + 60 s (ETIMEDOUT, exit 1).
pub fn robust_mutex(secs: &str) -> ExitCode {
    let Some(secs) = number::<u64>("robust-mutex", secs) else {
        return ExitCode::from(2);
    };
    static HELD: AtomicBool = AtomicBool::new(false);
    let m = Arc::new(PMutex::new(true, false));
    let mo = m.clone();
    let owner = std::thread::spawn(move || {
        let rc = mo.lock();
        HELD.store(rc == 0, Ordering::SeqCst);
        for _ in 0..secs * 10 {
            nap_ms(100);
        }
        // Ends holding the lock.
        rc
    });
    wait_for(|| HELD.load(Ordering::SeqCst));
    say("robust-mutex: a thread holds the lock");
    say("ready");
    let rc = m.lock_within(secs as i64 + 60);
    say(&format!("main: lock returned {}", errno_name(rc)));
    let owner_rc = owner.join().unwrap_or(-1);
    let mut ok = rc == libc::EOWNERDEAD && owner_rc == 0;
    if rc == libc::EOWNERDEAD {
        ok &= m.consistent() == 0 && m.unlock() == 0;
        let again = m.lock();
        say(&format!(
            "main: made consistent, locked again: {}",
            errno_name(again)
        ));
        ok &= again == 0 && m.unlock() == 0;
    }
    say(if ok {
        "EOWNERDEAD ok"
    } else {
        "EOWNERDEAD BAD"
    });
    status(ok)
}

/// `pi-mutex SECONDS`: a priority-inheritance mutex (FUTEX_LOCK_PI: the
/// kernel keeps the owner by tid and the waiters in a pi_state). Thread 1
/// locks it and holds it SECONDS; thread 2 blocks locking it in the kernel
/// (main says "ready" once it is: checkpoint now). Thread 1 then records
/// that it let go and unlocks; thread 2 must get the lock (0, after thread
/// 1 let go), at most SECONDS + 60 s later. Prints "pi ok", exit 0.
pub fn pi_mutex(secs: &str) -> ExitCode {
    let Some(secs) = number::<u64>("pi-mutex", secs) else {
        return ExitCode::from(2);
    };
    static HELD: AtomicBool = AtomicBool::new(false);
    static RELEASED: AtomicBool = AtomicBool::new(false);
    static WAITER_TID: AtomicI32 = AtomicI32::new(0);
    let m = Arc::new(PMutex::new(false, true));
    let m1 = m.clone();
    let holder = std::thread::spawn(move || {
        let rc = m1.lock();
        HELD.store(true, Ordering::SeqCst);
        for _ in 0..secs * 10 {
            nap_ms(100);
        }
        RELEASED.store(true, Ordering::SeqCst);
        (rc, m1.unlock())
    });
    wait_for(|| HELD.load(Ordering::SeqCst));
    let m2 = m.clone();
    let waiter = std::thread::spawn(move || {
        WAITER_TID.store(gettid(), Ordering::SeqCst);
        let rc = m2.lock_within(secs as i64 + 60);
        let after = RELEASED.load(Ordering::SeqCst);
        let un = if rc == 0 { m2.unlock() } else { -1 };
        (rc, after, un)
    });
    let blocked = wait_blocked(&WAITER_TID, libc::SYS_futex);
    say(if blocked {
        "pi-mutex: thread 1 holds it, thread 2 waits in the kernel"
    } else {
        "pi-mutex: THREAD 2 IS NOT WAITING"
    });
    say("ready");
    let (lock1, unlock1) = holder.join().unwrap_or((-1, -1));
    let (rc, after, un) = waiter.join().unwrap_or((-1, false, -1));
    say(&format!(
        "thread 1: lock {}, unlock {}",
        errno_name(lock1),
        errno_name(unlock1)
    ));
    say(&format!(
        "thread 2: lock {}{}",
        errno_name(rc),
        if after {
            " after thread 1 let go"
        } else {
            " WHILE THREAD 1 HELD IT"
        }
    ));
    let ok = blocked && lock1 == 0 && unlock1 == 0 && rc == 0 && after && un == 0;
    // The mutex is free again.
    let free = m.lock() == 0 && m.unlock() == 0;
    say(if ok && free { "pi ok" } else { "pi BAD" });
    status(ok && free)
}

/// `zombie-leader DIR`: the main thread starts a thread, says "ready" and
/// ends alone (the exit system call, not exit_group): the process runs on
/// with a zombie leader. The thread waits for DIR/go, prints "thread done"
/// and ends the process with status 0. A checkpoint of this process is
/// refused (step "threads", EOPNOTSUPP).
pub fn zombie_leader(dir: &str) -> ExitCode {
    let go = format!("{dir}/go");
    std::thread::spawn(move || {
        while !std::path::Path::new(&go).exists() {
            nap_ms(50);
        }
        say("thread done");
        std::process::exit(0)
    });
    say("ready");
    // SAFETY: ends this thread alone; the other one ends the process. No
    // Rust object of this thread is used again.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("exit returned")
}

/// `tgkill PID TID SIG`: sends SIG to thread TID of process PID alone.
pub fn tgkill_cmd(pid: &str, tid: &str, sig: &str) -> ExitCode {
    let (Some(pid), Some(tid), Some(sig)) = (
        number::<i32>("tgkill", pid),
        number::<i32>("tgkill", tid),
        number::<i32>("tgkill", sig),
    ) else {
        return ExitCode::from(2);
    };
    match tgkill(pid, tid, sig) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testprog: tgkill {pid} {tid} {sig}: {e}");
            ExitCode::FAILURE
        }
    }
}
