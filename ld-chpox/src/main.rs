// SPDX-License-Identifier: GPL-2.0

//! `ld-chpox`: restore a process tree from a chpox dump file.

mod info;
mod restore;

use chpox_abi::dump::{Dump, DumpError};
use clap::Parser;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Restore the processes saved in a chpox dump file; they continue where
/// they were checkpointed, as children of ld-chpox.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Check the dump and describe what it holds instead of restoring it.
    #[arg(long)]
    info: bool,
    /// The dump file written by a checkpoint.
    dump: PathBuf,
}

/// Reads and checks `path` completely: nothing is restored from a dump that
/// is not whole, of this architecture and of this very kernel.
fn load<'a>(path: &Path, bytes: &'a [u8]) -> Result<Dump<'a>, String> {
    let dump = Dump::parse(bytes).map_err(|e| explain(path, e))?;
    dump.validate().map_err(|e| explain(path, e))?;
    let release = nix::sys::utsname::uname()
        .map_err(|e| format!("uname: {e}"))?
        .release()
        .to_string_lossy()
        .into_owned();
    let taken_on = String::from_utf8_lossy(dump.header.release());
    if taken_on != release {
        return Err(format!(
            "{}: the dump was taken on kernel {taken_on}, this is {release}: \
             restore needs the same kernel",
            path.display()
        ));
    }
    Ok(dump)
}

fn explain(path: &Path, e: DumpError) -> String {
    format!("{}: {e}", path.display())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.info {
        if let Err(e) = restore::ensure_no_rseq() {
            eprintln!("ld-chpox: {e}");
            return ExitCode::FAILURE;
        }
    }
    // One open file for everything: its owner decides the restored
    // processes' rights, and the module reads the same file again.
    let (file, bytes) = match read(&cli.dump) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("ld-chpox: cannot read {}: {e}", cli.dump.display());
            return ExitCode::FAILURE;
        }
    };
    if cli.info {
        return match Dump::parse(&bytes).and_then(|d| d.validate().map(|()| d)) {
            Ok(dump) => {
                let mut text = info::describe(&cli.dump, &dump);
                match restore::describe_identity(&file, &dump) {
                    Ok(owner) => text += &owner,
                    Err(e) => text += &format!("owner: unknown ({e})\n"),
                }
                // A reader that stopped early (`--info DUMP | head -1`) is
                // not an error.
                match std::io::stdout().lock().write_all(text.as_bytes()) {
                    Err(e) if e.kind() != ErrorKind::BrokenPipe => {
                        eprintln!("ld-chpox: cannot write to standard output: {e}");
                        ExitCode::FAILURE
                    }
                    _ => ExitCode::SUCCESS,
                }
            }
            Err(e) => {
                eprintln!("ld-chpox: {}", explain(&cli.dump, e));
                ExitCode::FAILURE
            }
        };
    }
    match load(&cli.dump, &bytes) {
        Ok(dump) => restore::run(&cli.dump, &file, &dump),
        Err(message) => {
            eprintln!("ld-chpox: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The open dump file and its contents.
fn read(path: &Path) -> std::io::Result<(File, Vec<u8>)> {
    let mut file = File::open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok((file, bytes))
}
