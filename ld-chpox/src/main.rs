// SPDX-License-Identifier: GPL-2.0

//! `ld-chpox`: restore a process tree from a chpox dump file.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Restore the processes saved in a chpox dump file; they continue where
/// they were checkpointed, as children of ld-chpox.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The dump file written by a checkpoint.
    dump: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "ld-chpox: cannot restore {}: restore is not implemented yet in this version of chpox",
        cli.dump.display()
    );
    ExitCode::FAILURE
}
