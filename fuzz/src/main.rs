// SPDX-License-Identifier: GPL-2.0

//! `chpox-fuzz`: runs the mutation fuzzer of the shared dump and
//! `/proc/chpox` parsers for as many cases as asked.
//!
//! ```text
//! chpox-fuzz [--cases N] [--start N] [--seed S] [--seeds DIR]... [--crashes DIR]
//!            [--seconds N] [--quiet]
//! chpox-fuzz --replay FILE...
//! ```
//!
//! Seed dumps come from the built-in builders, every `--seeds DIR` and the
//! directories of `CHPOX_FUZZ_SEEDS` (colon-separated). A panicking case
//! writes its input to the crash directory (`target/fuzz-crashes`) and
//! aborts the run with the panic's message.

use chpox_fuzz::driver::{self, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: chpox-fuzz [--cases N] [--start N] [--seed S] [--seeds DIR]... \
                     [--crashes DIR] [--seconds N] [--quiet] | --replay FILE...";

fn number(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.replace('_', "").parse(),
    };
    parsed.map_err(|_| format!("not a number: {text}"))
}

fn main() -> ExitCode {
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
        crash_dir: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."))
            .join("target/fuzz-crashes"),
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
