// SPDX-License-Identifier: GPL-2.0

//! `chpoxctl`: register processes with the chpox kernel module.

mod control;
mod request;

use chpox_abi::registration::Command;
use clap::error::ErrorKind;
use clap::{Arg, CommandFactory, Parser, Subcommand};
use std::error::Error as _;
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
        #[arg(value_parser = request::pid)]
        pid: i32,
        /// Trigger signal, a number or a name (12, SIGUSR2, usr2, SIGRTMIN+1).
        #[arg(value_parser = request::signal)]
        sig: u32,
        /// 1 = the process, 9 = the process and all its descendants;
        /// plus 16 to compress the pages (as --compress), 32 to write the
        /// memory from a forked copy (as --snapshot).
        #[arg(value_parser = request::flags)]
        flags: u32,
        /// Absolute path of the dump file.
        file: PathBuf,
        /// Compress the pages with zstd (flag 16): a smaller dump of memory
        /// that compresses, for processor time at each checkpoint.
        #[arg(short = 'z', long)]
        compress: bool,
        /// Write the memory from a forked, copy-on-write copy of the
        /// process (flag 32): it stops for its registers, files and
        /// signals, then goes on while its memory is written. One process
        /// (not a tree); otherwise the memory is written during the stop.
        #[arg(short = 's', long)]
        snapshot: bool,
    },
    /// Remove the registration of a process.
    Del {
        /// Process id.
        #[arg(value_parser = request::pid)]
        pid: i32,
    },
    /// Remove every registration you may manage (all of them as root).
    Clear,
    /// Show the registrations.
    List,
}

/// The usage error in the words, if any, once our value parsers are left
/// out: clap checks a value as it meets it, before it finds an argument
/// missing, but a usage error has always come first (with status 2).
fn usage_error() -> Option<clap::Error> {
    let lenient = |a: Arg| a.value_parser(clap::value_parser!(String));
    Cli::command()
        .mut_subcommand("add", |s| {
            // mut_arg() moves an argument last: FILE too keeps the order.
            s.mut_arg("pid", lenient)
                .mut_arg("sig", lenient)
                .mut_arg("flags", lenient)
                .mut_arg("file", |a| a)
        })
        .mut_subcommand("del", |s| s.mut_arg("pid", lenient))
        .try_get_matches()
        .err()
}

fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("chpoxctl: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A word our value parsers refused: their own message and status 1,
        // as for any other bad request; clap reports usage errors (status 2).
        Err(e) if e.kind() == ErrorKind::ValueValidation => match (usage_error(), e.source()) {
            (Some(usage), _) => usage.exit(),
            (None, Some(reason)) => return fail(&reason),
            (None, None) => e.exit(),
        },
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Cmd::Add {
            pid,
            sig,
            flags,
            file,
            compress,
            snapshot,
        } => request::add(
            pid,
            sig,
            flags | request::option_flags(compress, snapshot),
            &file,
        )
        .and_then(|cmd| control::send(&cli.control, &cmd)),
        Cmd::Del { pid } => control::send(&cli.control, &Command::Del(pid)),
        Cmd::Clear => control::send(&cli.control, &Command::Clear),
        Cmd::List => control::list(&cli.control),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}
