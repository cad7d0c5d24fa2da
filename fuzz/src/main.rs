// SPDX-License-Identifier: GPL-2.0

//! `chpox-fuzz`: runs the mutation fuzzer of the shared dump and
//! `/proc/chpox` parsers for as many cases as asked.
//!
//! ```text
//! chpox-fuzz [--cases N] [--start N] [--seed S] [--seeds DIR]... [--crashes DIR]
//!            [--seconds N] [--quiet]
//! chpox-fuzz --replay FILE...
//! chpox-fuzz guest --uid UID --seeds DIR... [--cases N] [--start N] [--seed S]
//!            [--keep DIR] [--seconds N] [--run SECONDS] [--limit SECONDS]
//!            [--stuck SECONDS] [--ld-chpox PATH] [--quiet]
//! chpox-fuzz guest --uid UID [--keep DIR] --replay FILE...
//! ```
//!
//! Seed dumps come from the built-in builders, every `--seeds DIR` and the
//! directories of `CHPOX_FUZZ_SEEDS` (colon-separated). A panicking case
//! writes its input to the crash directory (`target/fuzz-crashes`) and
//! aborts the run with the panic's message.
//!
//! `guest` is the fuzz test against the real kernel module, run as root in
//! the test VM (`selftests/test_fuzz.sh`, `src/guest.rs`): mutated real
//! dumps restored by an unprivileged uid, straight through `/proc/chpox`
//! and through `ld-chpox`. It exits with status 1 on any failure.

use chpox_fuzz::driver::{self, Options};
use chpox_fuzz::guest;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: chpox-fuzz [--cases N] [--start N] [--seed S] [--seeds DIR]... \
                     [--crashes DIR] [--seconds N] [--quiet] | --replay FILE...\n       \
                     chpox-fuzz guest --uid UID --seeds DIR... [--cases N] [--start N] \
                     [--seed S] [--keep DIR] [--seconds N] [--run S] [--limit S] [--stuck S] \
                     [--ld-chpox PATH] [--quiet] | --replay FILE...";

fn number(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.replace('_', "").parse(),
    };
    parsed.map_err(|_| format!("not a number: {text}"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or(format!("not a number of seconds: {text}"))
}

/// Where failing inputs go by default.
fn in_target(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("target")
        .join(dir)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("guest") {
        return match guest_main() {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("chpox-fuzz: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        };
    }
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chpox-fuzz: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<(), String> {
    let mut opts = Options {
        cases: 100_000,
        start: 0,
        seed: 0xc4b0_f022,
        seed_dirs: std::env::var_os("CHPOX_FUZZ_SEEDS")
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default(),
        crash_dir: in_target("fuzz-crashes"),
        progress: true,
        seconds: None,
    };
    let mut replay = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--cases" => opts.cases = number(&value()?)?,
            "--start" => opts.start = number(&value()?)?,
            "--seed" => opts.seed = number(&value()?)?,
            "--seeds" => opts.seed_dirs.push(value()?.into()),
            "--crashes" => opts.crash_dir = value()?.into(),
            "--seconds" => opts.seconds = Some(number(&value()?)? as f64),
            "--replay" => replay.push(PathBuf::from(value()?)),
            "--quiet" => opts.progress = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if !replay.is_empty() {
        for path in replay {
            let said = driver::replay(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("{said}");
        }
        return Ok(());
    }
    for d in &opts.seed_dirs {
        if !d.is_dir() {
            eprintln!("chpox-fuzz: no seed directory {}", d.display());
        }
    }
    eprintln!(
        "chpox-fuzz: cases {}..{} of generator seed {:#x}",
        opts.start,
        opts.start.saturating_add(opts.cases),
        opts.seed
    );
    let stats = driver::run(&opts);
    println!("{stats}");
    Ok(())
}

/// `chpox-fuzz guest ...`: true if no case failed.
fn guest_main() -> Result<bool, String> {
    let mut opts = guest::Options {
        cases: 300,
        start: 0,
        seed: 0x9e57_f022,
        seed_dirs: Vec::new(),
        replay: Vec::new(),
        uid: 0,
        keep: in_target("fuzz-guest"),
        ld_chpox: None,
        run: Duration::from_millis(300),
        limit: Duration::from_secs(20),
        stuck: Duration::from_secs(10),
        seconds: None,
        progress: true,
    };
    let mut args = std::env::args().skip(2);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--cases" => opts.cases = number(&value()?)?,
            "--start" => opts.start = number(&value()?)?,
            "--seed" => opts.seed = number(&value()?)?,
            "--seeds" => opts.seed_dirs.push(value()?.into()),
            "--replay" => opts.replay.push(value()?.into()),
            "--uid" => {
                opts.uid = u32::try_from(number(&value()?)?).map_err(|_| "--uid: too large")?
            }
            "--keep" => opts.keep = value()?.into(),
            "--ld-chpox" => opts.ld_chpox = Some(value()?.into()),
            "--run" => opts.run = seconds(&value()?)?,
            "--limit" => opts.limit = seconds(&value()?)?,
            "--stuck" => opts.stuck = seconds(&value()?)?,
            "--seconds" => opts.seconds = Some(number(&value()?)? as f64),
            "--quiet" => opts.progress = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(true);
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if opts.uid == 0 {
        return Err("guest needs --uid UID (an unprivileged user)".into());
    }
    for d in &opts.seed_dirs {
        if !d.is_dir() {
            return Err(format!("no seed directory {}", d.display()));
        }
    }
    eprintln!(
        "chpox-fuzz guest: cases {}..{} of generator seed {:#x}, as uid {}",
        opts.start,
        opts.start.saturating_add(opts.cases),
        opts.seed,
        opts.uid
    );
    let stats = guest::run(&opts)?;
    println!("{stats}");
    Ok(stats.failures() == 0)
}
