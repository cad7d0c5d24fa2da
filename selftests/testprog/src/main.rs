// SPDX-License-Identifier: GPL-2.0

//! Programs with particular process shapes for the selftests:
//!
//! - `threads N`: N extra threads, all sleeping; prints "ready".
//! - `nodump`: marks itself non-dumpable (as setuid programs are), sleeps.
//! - `as-user UID CMD...`: runs CMD with every uid and gid set to UID and no
//!   supplementary groups or capabilities (no PAM, unlike su or runuser).
//! - `counter N`: prints 1 to N, one line every 0.1 s, with a handler on
//!   every catchable signal that reports it: a checkpoint must not show.
//! - `sparse TOTAL_MIB TOUCHED_MIB`: maps TOTAL MiB, writes a pattern into
//!   the first TOUCHED MiB, sleeps.
//! - `pattern MIB SECONDS`: fills MIB with a pattern, says "ready", sleeps
//!   SECONDS in 0.1 s steps, then checks the pattern ("pattern ok").
//!   `noise MIB SECONDS`: the same with incompressible bytes.
//! - `fpu STEPS`: each step loads x87 and SSE registers, then (if the CPU
//!   has AVX) all 256 bits of the ymm registers, with values that depend on
//!   every earlier step, keeps them in the registers across a 0.1 s
//!   nanosleep (where a checkpoint happens), and prints a running checksum
//!   of what it reads back. The first line names the register sets used.
//! - `squares INPUT OUTPUT INTERVAL_MS`, `ipc DIR` and `waiter SECONDS`:
//!   process trees with pipes, unix sockets and wait(), see `tree.rs`.
//! - `patch-dump FILE KIND OFFSET HEX`, `patch-header FILE OFFSET HEX`,
//!   `zstd-frame-at FILE`, `vmas N`,
//!   `sparse-huge GIB`: see `attack.rs`.
//! - `thread-linkage STEPS`, `prodcons ITEMS INTERVAL_MS`, `tls-threads N
//!   SECONDS`, `thread-signals SECONDS`, `thread-sleepers SECONDS`,
//!   `robust-mutex SECONDS`, `pi-mutex SECONDS`, `zombie-leader DIR`,
//!   `tgkill PID TID SIG`: multithreaded programs, see `threads.rs`.
//! - `bench-workload ...`, `bench-ctl FILE ACTION...`, `bench-reaper
//!   CMD...`, `checksum-speed MIB`: the workload of `make bench` and its
//!   driver's helpers, see `bench.rs`.

mod attack;
mod bench;
mod lazy;
mod threads;
mod tree;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

fn ready() {
    println!("ready");
    let _ = std::io::stdout().flush();
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["threads", n] => {
            let Ok(n) = n.parse::<usize>() else {
                eprintln!("testprog: threads needs a number");
                return ExitCode::from(2);
            };
            for _ in 0..n {
                std::thread::spawn(|| sleep_forever());
            }
            ready();
            sleep_forever()
        }
        ["nodump"] => {
            if let Err(e) = nix::sys::prctl::set_dumpable(false) {
                eprintln!("testprog: prctl(PR_SET_DUMPABLE): {e}");
                return ExitCode::FAILURE;
            }
            ready();
            sleep_forever()
        }
        ["as-user", uid, ref cmd @ ..] if !cmd.is_empty() => as_user(uid, cmd),
        ["counter", n] => counter(n),
        ["sparse", total, touched] => sparse(total, touched),
        ["pattern", mib, secs] => pattern(mib, secs, pattern_byte),
        ["noise", mib, secs] => pattern(mib, secs, noise_byte),
        ["lazy-checks", mib, dir] => lazy::checks(mib, dir),
        ["fpu", steps] => fpu(steps),
        ["squares", input, output, interval] => tree::squares(input, output, interval),
        ["ipc", dir] => tree::ipc(dir),
        ["zombies", dir] => tree::zombies(dir),
        ["waiter", secs] => tree::waiter(secs),
        ["shared", dir] => tree::shared(dir),
        ["patch-dump", file, kind, offset, hex] => attack::patch_dump(file, kind, offset, hex),
        ["zstd-frame-at", file] => attack::zstd_frame_at(file),
        ["patch-header", file, offset, hex] => attack::patch_header(file, offset, hex),
        ["vmas", n] => attack::vmas(n),
        ["sparse-huge", gib] => attack::sparse_huge(gib),
        ["thread-linkage", steps] => threads::thread_linkage(steps),
        ["prodcons", items, interval] => threads::prodcons(items, interval),
        ["tls-threads", n, secs] => threads::tls_threads(n, secs),
        ["thread-signals", secs] => threads::thread_signals(secs),
        ["thread-sleepers", secs] => threads::thread_sleepers(secs),
        ["robust-mutex", secs] => threads::robust_mutex(secs),
        ["pi-mutex", secs] => threads::pi_mutex(secs),
        ["zombie-leader", dir] => threads::zombie_leader(dir),
        ["tgkill", pid, tid, sig] => threads::tgkill_cmd(pid, tid, sig),
        ["bench-workload", ref opts @ ..] => bench::workload(opts),
        ["bench-ctl", ref rest @ ..] => bench::ctl(rest),
        ["bench-reaper", ref cmd @ ..] if !cmd.is_empty() => bench::reaper(cmd),
        ["checksum-speed", mib] => bench::checksum_speed(mib),
        _ => {
            eprintln!(
                "usage: chpox-testprog threads N | nodump | as-user UID CMD... | counter N | \
                 sparse TOTAL_MIB TOUCHED_MIB | pattern MIB SECONDS | noise MIB SECONDS | \
                 lazy-checks MIB DIR | fpu STEPS | \
                 squares INPUT OUTPUT INTERVAL_MS | ipc DIR | zombies DIR | shared DIR | \
                 patch-dump FILE KIND OFFSET HEX | zstd-frame-at FILE | \
                 patch-header FILE OFFSET HEX | vmas N | sparse-huge GIB | \
                 thread-linkage STEPS | prodcons ITEMS INTERVAL_MS | tls-threads N SECONDS | \
                 thread-signals SECONDS | thread-sleepers SECONDS | robust-mutex SECONDS | \
                 pi-mutex SECONDS | zombie-leader DIR | tgkill PID TID SIG | \
                 bench-workload OPTIONS | bench-ctl FILE ACTION... | bench-reaper CMD... | \
                 checksum-speed MIB"
            );
            ExitCode::from(2)
        }
    }
}

fn as_user(uid: &str, cmd: &[&str]) -> ExitCode {
    use nix::unistd::{execvp, setgroups, setresgid, setresuid, Gid, Uid};
    use std::ffi::CString;
    let Ok(id) = uid.parse::<u32>() else {
        eprintln!("testprog: as-user needs a numeric uid");
        return ExitCode::from(2);
    };
    let (uid, gid) = (Uid::from_raw(id), Gid::from_raw(id));
    let switched = setgroups(&[])
        .and_then(|()| setresgid(gid, gid, gid))
        .and_then(|()| setresuid(uid, uid, uid));
    if let Err(e) = switched {
        eprintln!("testprog: cannot become uid {id}: {e}");
        return ExitCode::FAILURE;
    }
    let argv: Vec<CString> = cmd.iter().map(|a| CString::new(*a).unwrap()).collect();
    let err = execvp(&argv[0], &argv).unwrap_err();
    eprintln!("testprog: cannot run {}: {err}", cmd[0]);
    ExitCode::from(127)
}

extern "C" fn report(sig: i32) {
    // Only async-signal-safe calls here: write(2).
    let msg = [
        b"SIGNAL ".as_slice(),
        &[b'0' + (sig / 10) as u8, b'0' + (sig % 10) as u8, b'\n'],
    ]
    .concat();
    let _ = nix::unistd::write(std::io::stdout(), &msg);
}

fn counter(n: &str) -> ExitCode {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let Ok(n) = n.parse::<u64>() else {
        eprintln!("testprog: counter needs a number");
        return ExitCode::from(2);
    };
    let action = SigAction::new(
        SigHandler::Handler(report),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in Signal::iterator() {
        if !matches!(
            sig,
            Signal::SIGKILL | Signal::SIGSTOP | Signal::SIGCHLD | Signal::SIGCONT
        ) {
            // SAFETY: `report` only calls write(2).
            let _ = unsafe { sigaction(sig, &action) };
        }
    }
    let had_rseq = rseq_registered() == Some(true);
    let exe = std::fs::read_link("/proc/self/exe").ok();
    // The clock is read through the vDSO every step: time must go on.
    let mut last = std::time::Instant::now();
    for i in 1..=n {
        let now = std::time::Instant::now();
        if now < last {
            println!("CLOCK WENT BACK");
        }
        last = now;
        println!("{i}");
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    if had_rseq && rseq_registered() != Some(true) {
        println!("RSEQ LOST");
    }
    let exe_now = std::fs::read_link("/proc/self/exe").ok();
    if exe_now != exe {
        println!("EXE CHANGED: {exe_now:?} instead of {exe:?}");
    }
    ExitCode::SUCCESS
}

/// Whether glibc's rseq area of this thread is registered with the kernel
/// (None: glibc did not register one). Registering it once more fails with
/// EBUSY (or EINVAL for other parameters) exactly when it is; if it was
/// not, the call registers it, which is harmless.
fn rseq_registered() -> Option<bool> {
    extern "C" {
        static __rseq_offset: isize;
        static __rseq_size: u32;
    }
    const RSEQ_SIG: u32 = 0x5305_3053;
    // SAFETY: glibc's read-only variables, set before main().
    let (offset, size) = unsafe { (__rseq_offset, __rseq_size) };
    if size == 0 {
        return None;
    }
    let tp: usize;
    // SAFETY: reads the thread pointer (the TCB's self pointer at fs:0).
    unsafe { core::arch::asm!("mov {}, fs:0", out(reg) tp) };
    let area = tp.wrapping_add_signed(offset);
    // SAFETY: rseq() on glibc's own area with glibc's parameters.
    let ret = unsafe { nix::libc::syscall(nix::libc::SYS_rseq, area, 32u32, 0, RSEQ_SIG) };
    let err = std::io::Error::last_os_error().raw_os_error();
    Some(ret != 0 && matches!(err, Some(nix::libc::EBUSY | nix::libc::EINVAL)))
}

fn sparse(total: &str, touched: &str) -> ExitCode {
    let (Ok(total), Ok(touched)) = (total.parse::<usize>(), touched.parse::<usize>()) else {
        eprintln!("testprog: sparse needs two sizes in MiB");
        return ExitCode::from(2);
    };
    let mut area = vec![0u8; 0];
    area.reserve_exact(total << 20);
    // SAFETY: capacity reserved above; u8 has no invalid values and the
    // memory is only written before it is read.
    unsafe { area.set_len(total << 20) };
    for (i, b) in area[..touched.min(total) << 20].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    ready();
    sleep_forever()
}

/// `pattern`'s bytes: they repeat every 32 KiB, so they compress well.
fn pattern_byte(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 7) as u8
}

/// `noise`'s bytes: a hash of the index (splitmix64), incompressible.
fn noise_byte(i: usize) -> u8 {
    let mut z = (i as u64 / 8).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).to_le_bytes()[i % 8]
}

fn pattern(mib: &str, secs: &str, fill: fn(usize) -> u8) -> ExitCode {
    let (Ok(mib), Ok(secs)) = (mib.parse::<usize>(), secs.parse::<u64>()) else {
        eprintln!("testprog: pattern and noise need MiB and seconds");
        return ExitCode::from(2);
    };
    // As much again is allocated and never touched: it must not be dumped.
    let mut data: Vec<u8> = Vec::with_capacity(mib << 21);
    data.extend((0..mib << 20).map(fill));
    ready();
    for _ in 0..secs * 10 {
        std::thread::sleep(Duration::from_millis(100));
    }
    if data.iter().enumerate().all(|(i, &b)| b == fill(i)) {
        println!("pattern ok");
        ExitCode::SUCCESS
    } else {
        println!("pattern BAD");
        ExitCode::FAILURE
    }
}

/// One step: registers loaded from `vals`, a nanosleep, registers stored
/// back into `out`. Nothing but the CPU holds the values during the sleep.
fn fpu_step(vals: &[u64; 32], out: &mut [u64; 32], x87_in: f64) -> f64 {
    let ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    let mut x87_out = 0f64;
    // SAFETY: loads and stores 16 xmm registers (256 bytes) from and to the
    // arrays, pushes two values on the x87 stack and pops them, and makes a
    // nanosleep system call; every clobbered register is declared.
    unsafe {
        core::arch::asm!(
            "movdqu xmm0, [{v}]", "movdqu xmm1, [{v}+16]", "movdqu xmm2, [{v}+32]",
            "movdqu xmm3, [{v}+48]", "movdqu xmm4, [{v}+64]", "movdqu xmm5, [{v}+80]",
            "movdqu xmm6, [{v}+96]", "movdqu xmm7, [{v}+112]", "movdqu xmm8, [{v}+128]",
            "movdqu xmm9, [{v}+144]", "movdqu xmm10, [{v}+160]", "movdqu xmm11, [{v}+176]",
            "movdqu xmm12, [{v}+192]", "movdqu xmm13, [{v}+208]", "movdqu xmm14, [{v}+224]",
            "movdqu xmm15, [{v}+240]",
            "fld qword ptr [{x}]",
            "fldpi",
            "fmulp st(1), st",
            "mov eax, 35", // nanosleep(&ts, NULL)
            "mov rdi, {ts}",
            "xor esi, esi",
            "syscall",
            "fstp qword ptr [{xo}]",
            "movdqu [{o}], xmm0", "movdqu [{o}+16], xmm1", "movdqu [{o}+32], xmm2",
            "movdqu [{o}+48], xmm3", "movdqu [{o}+64], xmm4", "movdqu [{o}+80], xmm5",
            "movdqu [{o}+96], xmm6", "movdqu [{o}+112], xmm7", "movdqu [{o}+128], xmm8",
            "movdqu [{o}+144], xmm9", "movdqu [{o}+160], xmm10", "movdqu [{o}+176], xmm11",
            "movdqu [{o}+192], xmm12", "movdqu [{o}+208], xmm13", "movdqu [{o}+224], xmm14",
            "movdqu [{o}+240], xmm15",
            v = in(reg) vals.as_ptr(),
            o = in(reg) out.as_mut_ptr(),
            x = in(reg) &x87_in,
            xo = in(reg) &mut x87_out,
            ts = in(reg) &ts,
            out("rax") _, out("rdi") _, out("rsi") _, out("rcx") _, out("r11") _,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
        );
    }
    x87_out
}

/// As `fpu_step`, with all 256 bits of the 16 ymm registers.
///
/// # Safety
///
/// The CPU must have AVX.
#[target_feature(enable = "avx")]
unsafe fn avx_step(vals: &[u64; 64], out: &mut [u64; 64]) {
    let ts = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    // SAFETY: loads and stores 16 ymm registers (512 bytes) from and to the
    // arrays around a nanosleep system call; every clobbered register is
    // declared.
    unsafe {
        core::arch::asm!(
            "vmovdqu ymm0, [{v}]", "vmovdqu ymm1, [{v}+32]", "vmovdqu ymm2, [{v}+64]",
            "vmovdqu ymm3, [{v}+96]", "vmovdqu ymm4, [{v}+128]", "vmovdqu ymm5, [{v}+160]",
            "vmovdqu ymm6, [{v}+192]", "vmovdqu ymm7, [{v}+224]", "vmovdqu ymm8, [{v}+256]",
            "vmovdqu ymm9, [{v}+288]", "vmovdqu ymm10, [{v}+320]", "vmovdqu ymm11, [{v}+352]",
            "vmovdqu ymm12, [{v}+384]", "vmovdqu ymm13, [{v}+416]", "vmovdqu ymm14, [{v}+448]",
            "vmovdqu ymm15, [{v}+480]",
            "mov eax, 35", // nanosleep(&ts, NULL)
            "mov rdi, {ts}",
            "xor esi, esi",
            "syscall",
            "vmovdqu [{o}], ymm0", "vmovdqu [{o}+32], ymm1", "vmovdqu [{o}+64], ymm2",
            "vmovdqu [{o}+96], ymm3", "vmovdqu [{o}+128], ymm4", "vmovdqu [{o}+160], ymm5",
            "vmovdqu [{o}+192], ymm6", "vmovdqu [{o}+224], ymm7", "vmovdqu [{o}+256], ymm8",
            "vmovdqu [{o}+288], ymm9", "vmovdqu [{o}+320], ymm10", "vmovdqu [{o}+352], ymm11",
            "vmovdqu [{o}+384], ymm12", "vmovdqu [{o}+416], ymm13", "vmovdqu [{o}+448], ymm14",
            "vmovdqu [{o}+480], ymm15",
            "vzeroupper",
            v = in(reg) vals.as_ptr(),
            o = in(reg) out.as_mut_ptr(),
            ts = in(reg) &ts,
            out("rax") _, out("rdi") _, out("rsi") _, out("rcx") _, out("r11") _,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
        );
    }
}

fn fpu(steps: &str) -> ExitCode {
    let Ok(steps) = steps.parse::<u64>() else {
        eprintln!("testprog: fpu needs a step count");
        return ExitCode::from(2);
    };
    let avx = std::arch::is_x86_feature_detected!("avx");
    println!("registers: x87, sse{}", if avx { ", avx" } else { "" });
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut x = 1.000_001f64;
    for step in 1..=steps {
        let vals: [u64; 32] = core::array::from_fn(|i| {
            state = state.rotate_left(7) ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
            state
        });
        let mut out = [0u64; 32];
        x = fpu_step(&vals, &mut out, x) / 3.0;
        let mut lost = vals != out;
        state ^= out.iter().fold(0, |a, &v| a ^ v) ^ x.to_bits();
        if avx {
            let wide: [u64; 64] = core::array::from_fn(|i| {
                state = state.rotate_left(11) ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                state
            });
            let mut back = [0u64; 64];
            // SAFETY: the CPU has AVX (checked above).
            unsafe { avx_step(&wide, &mut back) };
            lost |= wide != back;
            state ^= back.iter().fold(0u64, |a, &v| a.rotate_left(3) ^ v);
        }
        println!(
            "step {step} {state:016x}{}",
            if lost { " REGISTERS LOST" } else { "" }
        );
        let _ = std::io::stdout().flush();
    }
    ExitCode::SUCCESS
}
