// SPDX-License-Identifier: GPL-2.0

//! `chpoxctl`: register processes with the chpox kernel module.

mod control;
mod request;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Manage chpox checkpoint registrations (through /proc/chpox).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Control file of the module.
    #[arg(long, global = true, default_value = chpox_abi::registration::PROC_PATH, hide = true)]
    control: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Register a process: `kill -<sig> <pid>` will then checkpoint it.
    Add {
        /// Process id.
        pid: String,
        /// Trigger signal, a number or a name (12, SIGUSR2, usr2, SIGRTMIN+1).
        sig: String,
        /// 1 = the process, 9 = the process and all its descendants.
        flags: String,
        /// Absolute path of the dump file.
        file: PathBuf,
    },
    /// Remove the registration of a process.
    Del {
        /// Process id.
        pid: String,
    },
    /// Remove every registration you may manage (all of them as root).
    Clear,
    /// Show the registrations.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Add {
            pid,
            sig,
            flags,
            file,
        } => request::add(&pid, &sig, &flags, &file)
            .and_then(|cmd| control::send(&cli.control, &cmd)),
        Cmd::Del { pid } => request::del(&pid).and_then(|cmd| control::send(&cli.control, &cmd)),
        Cmd::Clear => control::send(&cli.control, &chpox_abi::registration::Command::Clear),
        Cmd::List => control::list(&cli.control),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("chpoxctl: {message}");
            ExitCode::FAILURE
        }
    }
}
