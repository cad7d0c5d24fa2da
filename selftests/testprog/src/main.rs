// SPDX-License-Identifier: GPL-2.0

//! Programs with particular process shapes for the selftests:
//!
//! - `threads N`: N extra threads, all sleeping; prints "ready".
//! - `nodump`: marks itself non-dumpable (as setuid programs are), sleeps.
//! - `as-user UID CMD...`: runs CMD with every uid and gid set to UID and no
//!   supplementary groups or capabilities (no PAM, unlike su or runuser).

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
        _ => {
            eprintln!("usage: chpox-testprog threads N | nodump | as-user UID CMD...");
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
