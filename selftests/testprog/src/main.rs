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
        _ => {
            eprintln!(
                "usage: chpox-testprog threads N | nodump | as-user UID CMD... | counter N | \
                 sparse TOTAL_MIB TOUCHED_MIB"
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
    for i in 1..=n {
        println!("{i}");
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    ExitCode::SUCCESS
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
