// SPDX-License-Identifier: GPL-2.0

//! The `/proc/chpox` protocol: commands written to it and the lines read
//! from it.
//!
//! One `write()` carries one command, optionally ended by a newline:
//!
//! ```text
//! add <pid> <signal> <flags> <absolute dump path>
//! del <pid>
//! clear
//! restore <dump fd> <control fd> [<process> <thread> [<lazy fd>]]
//! ```
//!
//! `restore` is written by `ld-chpox` as the last act of the process it
//! restores: the module replaces the writer's address space and registers
//! with those of the dump open at `dump fd`, closes `control fd` (this
//! file) and returns into the restored program. With `lazy fd`, private
//! anonymous memory is left for ld-chpox to fill on demand.
//!
//! Numbers are decimal (flags may also be `0x` hex); the path is the rest of
//! the line and may contain spaces but no control characters. Reading the
//! file gives one registration a line as `key=value` fields, `file=` last
//! because its value runs to the end of the line.

use super::signal::{self, SignalError};
use super::sink::FmtSink;
pub use super::sink::Sink;
use core::fmt;

/// Where the module's control file lives.
pub const PROC_PATH: &str = "/proc/chpox";

/// Flag bit: checkpoint the registered process itself.
pub const FLAG_PROCESS: u32 = 1;
/// Flag bit: checkpoint its descendants too, including those forked after
/// the registration (CHPOX's `9` = process + descendants).
pub const FLAG_DESCENDANTS: u32 = 8;
/// Flag bit: compress the pages with zstd (sections
/// [`SectionKind::ZstdPages`](crate::dump::SectionKind::ZstdPages)): a
/// smaller dump for memory that compresses, for some processor time.
pub const FLAG_COMPRESS: u32 = 16;
/// Flag bit: write the memory from a forked copy of the process while the
/// process goes on, so that it stops for its state but not for its memory
/// (one process; see `Documentation/design.rst`, "Forked snapshot").
pub const FLAG_SNAPSHOT: u32 = 32;
/// Every flag bit the module understands.
pub const KNOWN_FLAGS: u32 = FLAG_PROCESS | FLAG_DESCENDANTS | FLAG_COMPRESS | FLAG_SNAPSHOT;

/// Longest dump path, terminating NUL included (the kernel's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Longest command the module accepts in one write.
pub const COMMAND_MAX: usize = PATH_MAX + 64;

/// A parsed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// Register a process.
    Add(Add<'a>),
    /// Remove the registration of this pid.
    Del(i32),
    /// Remove every registration the caller may manage.
    Clear,
    /// Become the process saved in a dump.
    Restore {
        /// Descriptor of the dump file in the writer.
        dump_fd: u32,
        /// Descriptor of `/proc/chpox` in the writer, closed on success.
        control_fd: u32,
        /// Which process of the dump the writer becomes (0, the root, when
        /// the command leaves it out).
        process: u32,
        /// Which thread of that process the writer becomes (0, the one
        /// that rebuilds the address space, when left out).
        thread: u32,
        /// For a lazy restore (thread 0 only): descriptor in the writer of
        /// the socket to ld-chpox's page server, which the module tells
        /// when the memory is mapped and waits on until the server has
        /// registered it with userfaultfd.
        lazy_fd: Option<u32>,
    },
}

/// The fields of an `add` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Add<'a> {
    /// Process id, in the writer's pid namespace.
    pub pid: i32,
    /// Signal number that triggers the checkpoint.
    pub signal: u32,
    /// [`FLAG_PROCESS`], [`FLAG_DESCENDANTS`].
    pub flags: u32,
    /// Absolute path of the dump file.
    pub path: &'a [u8],
}

/// A field of a command, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The process id.
    Pid,
    /// The signal number.
    Signal,
    /// The flag bits.
    Flags,
    /// The dump file path.
    Path,
    /// A file descriptor.
    Fd,
    /// A process number within a dump.
    Process,
    /// The thread number of a `restore` command.
    Thread,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Pid => "pid",
            Field::Signal => "signal",
            Field::Flags => "flags",
            Field::Path => "dump file path",
            Field::Fd => "file descriptor",
            Field::Process => "process number",
            Field::Thread => "thread number",
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Nothing but white space.
    Empty,
    /// Longer than [`COMMAND_MAX`].
    TooLong,
    /// Neither `add`, `del` nor `clear`.
    UnknownVerb,
    /// A required field is absent.
    Missing(Field),
    /// A field is not a number in range.
    BadNumber(Field),
    /// Words after the last field, or a second line.
    Trailing,
    /// The signal cannot be registered.
    Signal(SignalError),
    /// Flag bits this module does not know (the unknown bits).
    UnknownFlags(u32),
    /// Flags without [`FLAG_PROCESS`]: a tree is always taken with its root.
    NoProcessFlag,
    /// The dump path does not start with `/`.
    RelativePath,
    /// The dump path holds a control character.
    PathByte,
    /// The dump path is [`PATH_MAX`] bytes or longer.
    PathTooLong,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Empty => f.write_str("empty command"),
            CommandError::TooLong => f.write_str("command too long"),
            CommandError::UnknownVerb => {
                f.write_str("unknown command (add, del, clear or restore)")
            }
            CommandError::Missing(field) => write!(f, "missing {}", field.name()),
            CommandError::BadNumber(Field::Pid) => f.write_str("pid must be a positive number"),
            CommandError::BadNumber(field) => write!(f, "{} is not a valid number", field.name()),
            CommandError::Trailing => f.write_str("unexpected text after the command"),
            CommandError::Signal(e) => f.write_str(e.describe()),
            CommandError::UnknownFlags(bits) => write!(
                f,
                "unknown flag bits {bits:#x} (1 = the process, 8 = its descendants, 16 = compress, 32 = snapshot)"
            ),
            CommandError::NoProcessFlag => f.write_str("flags must include 1 (the process itself)"),
            CommandError::RelativePath => f.write_str("dump file path must be absolute"),
            CommandError::PathByte => {
                f.write_str("dump file path must not contain control characters")
            }
            CommandError::PathTooLong => f.write_str("dump file path too long"),
        }
    }
}

/// Checks a flag mask.
pub fn check_flags(flags: u32) -> Result<(), CommandError> {
    if flags & !KNOWN_FLAGS != 0 {
        return Err(CommandError::UnknownFlags(flags & !KNOWN_FLAGS));
    }
    if flags & FLAG_PROCESS == 0 {
        return Err(CommandError::NoProcessFlag);
    }
    Ok(())
}

/// Checks a dump path.
pub fn check_path(path: &[u8]) -> Result<(), CommandError> {
    if path.is_empty() {
        return Err(CommandError::Missing(Field::Path));
    }
    if path[0] != b'/' {
        return Err(CommandError::RelativePath);
    }
    if path.len() >= PATH_MAX {
        return Err(CommandError::PathTooLong);
    }
    if path.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(CommandError::PathByte);
    }
    Ok(())
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_blank(b)).count();
    &s[n..]
}

/// Splits the next blank-separated word off `s`.
fn next_word(s: &[u8]) -> (&[u8], &[u8]) {
    let s = trim_start(s);
    let n = s.iter().take_while(|&&b| !is_blank(b)).count();
    (&s[..n], &s[n..])
}

fn parse_u32(word: &[u8], field: Field) -> Result<u32, CommandError> {
    if word.is_empty() {
        return Err(CommandError::Missing(field));
    }
    let text = core::str::from_utf8(word).map_err(|_| CommandError::BadNumber(field))?;
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if field == Field::Flags => u32::from_str_radix(hex, 16),
        _ => text.parse::<u32>(),
    };
    parsed.map_err(|_| CommandError::BadNumber(field))
}

fn parse_pid(word: &[u8]) -> Result<i32, CommandError> {
    let n = parse_u32(word, Field::Pid)?;
    match i32::try_from(n) {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(CommandError::BadNumber(Field::Pid)),
    }
}

/// Parses and validates one command as written to `/proc/chpox`.
pub fn parse_command(input: &[u8]) -> Result<Command<'_>, CommandError> {
    if input.len() > COMMAND_MAX {
        return Err(CommandError::TooLong);
    }
    let line = input.strip_suffix(b"\n").unwrap_or(input);
    if line.contains(&b'\n') {
        return Err(CommandError::Trailing);
    }
    let (verb, rest) = next_word(line);
    let command = match verb {
        b"" => return Err(CommandError::Empty),
        b"add" => {
            let (pid, rest) = next_word(rest);
            let (sig, rest) = next_word(rest);
            let (flags, rest) = next_word(rest);
            let add = Add {
                pid: parse_pid(pid)?,
                signal: parse_u32(sig, Field::Signal)?,
                flags: parse_u32(flags, Field::Flags)?,
                path: trim_start(rest),
            };
            signal::check_usable(add.signal).map_err(CommandError::Signal)?;
            check_flags(add.flags)?;
            check_path(add.path)?;
            return Ok(Command::Add(add));
        }
        b"del" => {
            let (pid, rest) = next_word(rest);
            let pid = parse_pid(pid)?;
            (Command::Del(pid), rest)
        }
        b"clear" => (Command::Clear, rest),
        b"restore" => {
            let (dump, rest) = next_word(rest);
            let (control, rest) = next_word(rest);
            let (process, rest) = next_word(rest);
            let (thread, rest) = next_word(rest);
            let (lazy, rest) = next_word(rest);
            let index = |word: &[u8], field| {
                if word.is_empty() {
                    Ok(0)
                } else {
                    parse_u32(word, field)
                }
            };
            let restore = Command::Restore {
                dump_fd: parse_u32(dump, Field::Fd)?,
                control_fd: parse_u32(control, Field::Fd)?,
                process: index(process, Field::Process)?,
                thread: index(thread, Field::Thread)?,
                lazy_fd: match lazy {
                    b"" => None,
                    word => Some(parse_u32(word, Field::Fd)?),
                },
            };
            (restore, rest)
        }
        _ => return Err(CommandError::UnknownVerb),
    };
    if !trim_start(command.1).is_empty() {
        return Err(CommandError::Trailing);
    }
    Ok(command.0)
}

impl Command<'_> {
    /// Writes the command in the form [`parse_command`] reads, newline ended.
    pub fn encode(&self, out: &mut dyn Sink) {
        let mut w = FmtSink(out);
        // Writing to a `Sink` cannot fail.
        let _ = match self {
            Command::Add(a) => {
                let _ = fmt::Write::write_fmt(
                    &mut w,
                    format_args!("add {} {} {} ", a.pid, a.signal, a.flags),
                );
                w.0.put(a.path);
                fmt::Write::write_str(&mut w, "\n")
            }
            Command::Del(pid) => fmt::Write::write_fmt(&mut w, format_args!("del {pid}\n")),
            Command::Clear => fmt::Write::write_str(&mut w, "clear\n"),
            Command::Restore {
                dump_fd,
                control_fd,
                process,
                thread,
                lazy_fd,
            } => {
                let _ = fmt::Write::write_fmt(
                    &mut w,
                    format_args!("restore {dump_fd} {control_fd} {process} {thread}"),
                );
                if let Some(fd) = lazy_fd {
                    let _ = fmt::Write::write_fmt(&mut w, format_args!(" {fd}"));
                }
                fmt::Write::write_str(&mut w, "\n")
            }
        };
    }
}

/// The result of the last checkpoint of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last<'a> {
    /// No checkpoint has been attempted.
    Never,
    /// The dump was written and renamed into place.
    Ok {
        /// When it finished, seconds since the epoch.
        time: u64,
        /// Size of the dump file.
        size: u64,
        /// How long it took, in microseconds.
        usec: u64,
    },
    /// It failed; the previous dump, if any, is untouched.
    Failed {
        /// When it failed, seconds since the epoch.
        time: u64,
        /// The error number (positive).
        errno: u32,
        /// The step that failed, one word (`open`, `write`, `threads`...).
        step: &'a str,
    },
}

/// One registration as `/proc/chpox` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Process id in the reader's pid namespace.
    pub pid: i32,
    /// Trigger signal.
    pub signal: u32,
    /// Flag bits.
    pub flags: u32,
    /// Effective uid of whoever registered it.
    pub uid: u32,
    /// `idle` or `checkpointing`.
    pub state: &'a str,
    /// Checkpoints written successfully.
    pub checkpoints: u64,
    /// The last attempt.
    pub last: Last<'a>,
    /// Dump file path.
    pub file: &'a [u8],
}

impl Entry<'_> {
    /// Writes the entry as one line.
    pub fn write(&self, out: &mut dyn Sink) {
        let mut w = FmtSink(out);
        let _ = fmt::Write::write_fmt(
            &mut w,
            format_args!(
                "pid={} signal={} flags={} uid={} state={} checkpoints={} ",
                self.pid, self.signal, self.flags, self.uid, self.state, self.checkpoints
            ),
        );
        let _ = match self.last {
            Last::Never => fmt::Write::write_str(&mut w, "last=never "),
            Last::Ok { time, size, usec } => fmt::Write::write_fmt(
                &mut w,
                format_args!("last=ok last_time={time} last_size={size} last_usec={usec} "),
            ),
            Last::Failed { time, errno, step } => fmt::Write::write_fmt(
                &mut w,
                format_args!("last=failed last_time={time} last_errno={errno} last_step={step} "),
            ),
        };
        w.0.put(b"file=");
        w.0.put(self.file);
        w.0.put(b"\n");
    }
}

/// Iterates over the `key=value` fields of a listed line; the `file` field
/// takes the rest of the line. Words without `=` are skipped.
pub fn entry_fields(line: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = line.strip_suffix(b"\n").unwrap_or(line);
    core::iter::from_fn(move || loop {
        let s = trim_start(rest);
        if s.is_empty() {
            return None;
        }
        if let Some(file) = s.strip_prefix(b"file=") {
            rest = &[];
            return Some((&b"file"[..], file));
        }
        let (word, tail) = next_word(s);
        rest = tail;
        if let Some(eq) = word.iter().position(|&b| b == b'=') {
            return Some((&word[..eq], &word[eq + 1..]));
        }
    })
}

/// Parses a listed line back into an [`Entry`].
pub fn parse_entry(line: &[u8]) -> Option<Entry<'_>> {
    let (mut pid, mut signal, mut flags, mut uid, mut checkpoints) = (None, None, None, None, None);
    let (mut state, mut file, mut last) = (None, None, None);
    let (mut time, mut size, mut usec, mut errno, mut step) = (None, None, None, None, None);
    for (key, value) in entry_fields(line) {
        let text = core::str::from_utf8(value).ok();
        let num = || text?.parse::<u64>().ok();
        let small = || num().and_then(|n| u32::try_from(n).ok());
        match key {
            b"pid" => pid = small().and_then(|n| i32::try_from(n).ok()),
            b"signal" => signal = small(),
            b"flags" => flags = small(),
            b"uid" => uid = small(),
            b"state" => state = text,
            b"checkpoints" => checkpoints = num(),
            b"last" => last = text,
            b"last_time" => time = num(),
            b"last_size" => size = num(),
            b"last_usec" => usec = num(),
            b"last_errno" => errno = small(),
            b"last_step" => step = text,
            b"file" => file = Some(value),
            _ => {}
        }
    }
    let last = match last? {
        "never" => Last::Never,
        "ok" => Last::Ok {
            time: time?,
            size: size?,
            usec: usec?,
        },
        "failed" => Last::Failed {
            time: time?,
            errno: errno?,
            step: step?,
        },
        _ => return None,
    };
    Some(Entry {
        pid: pid?,
        signal: signal?,
        flags: flags?,
        uid: uid?,
        state: state?,
        checkpoints: checkpoints?,
        last,
        file: file?,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    use super::super::sink::VecSink as V;

    fn add(pid: i32, signal: u32, flags: u32, path: &[u8]) -> Command<'_> {
        Command::Add(Add {
            pid,
            signal,
            flags,
            path,
        })
    }

    #[test]
    fn parses_add() {
        assert_eq!(
            parse_command(b"add 42 12 9 /tmp/a.dump\n"),
            Ok(add(42, 12, 9, b"/tmp/a.dump"))
        );
        assert_eq!(
            parse_command(b"  add\t42  12 0x9   /tmp/with space\n"),
            Ok(add(42, 12, 9, b"/tmp/with space"))
        );
        assert_eq!(parse_command(b"add 1 10 1 /x"), Ok(add(1, 10, 1, b"/x")));
        // Compressed: the process (17) or its tree (0x19 = 25).
        assert_eq!(parse_command(b"add 1 10 17 /x"), Ok(add(1, 10, 17, b"/x")));
        assert_eq!(
            parse_command(b"add 1 10 0x19 /x"),
            Ok(add(1, 10, 25, b"/x"))
        );
        // Forked snapshot: the process (33) or its tree, compressed (57).
        assert_eq!(parse_command(b"add 1 10 33 /x"), Ok(add(1, 10, 33, b"/x")));
        assert_eq!(parse_command(b"add 1 10 57 /x"), Ok(add(1, 10, 57, b"/x")));
    }

    #[test]
    fn rejects_bad_add() {
        use CommandError::*;
        let cases: &[(&[u8], CommandError)] = &[
            (b"", Empty),
            (b"\n", Empty),
            (b"frob 1", UnknownVerb),
            (b"add", Missing(Field::Pid)),
            (b"add 1", Missing(Field::Signal)),
            (b"add 1 12", Missing(Field::Flags)),
            (b"add 1 12 9", Missing(Field::Path)),
            (b"add 1 12 9   ", Missing(Field::Path)),
            (b"add 0 12 9 /a", BadNumber(Field::Pid)),
            (b"add -4 12 9 /a", BadNumber(Field::Pid)),
            (b"add 4294967295 12 9 /a", BadNumber(Field::Pid)),
            (b"add x 12 9 /a", BadNumber(Field::Pid)),
            (b"add 1 USR2 9 /a", BadNumber(Field::Signal)),
            (b"add 1 0x10 9 /a", BadNumber(Field::Signal)),
            (b"add 1 0 9 /a", Signal(SignalError::OutOfRange)),
            (b"add 1 65 9 /a", Signal(SignalError::OutOfRange)),
            (b"add 1 9 9 /a", Signal(SignalError::Uncatchable)),
            (b"add 1 19 9 /a", Signal(SignalError::Uncatchable)),
            (b"add 1 18 9 /a", Signal(SignalError::JobControl)),
            (b"add 1 12 2 /a", UnknownFlags(2)),
            (b"add 1 12 0x49 /a", UnknownFlags(0x40)),
            (b"add 1 12 8 /a", NoProcessFlag),
            (b"add 1 12 0 /a", NoProcessFlag),
            (b"add 1 12 9 a.dump", RelativePath),
            (b"add 1 12 9 /a\tb", PathByte),
            (b"add 1 12 9 /a\n/b", Trailing),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_command(input),
                Err(*want),
                "{:?}",
                std::str::from_utf8(input)
            );
        }
        let mut long = Vec::from(&b"add 1 12 9 /"[..]);
        long.resize(12 + PATH_MAX, b'a');
        assert_eq!(parse_command(&long), Err(CommandError::PathTooLong));
        long.resize(COMMAND_MAX + 1, b'a');
        assert_eq!(parse_command(&long), Err(CommandError::TooLong));
    }

    #[test]
    fn parses_del_and_clear() {
        assert_eq!(parse_command(b"del 7\n"), Ok(Command::Del(7)));
        assert_eq!(parse_command(b"clear"), Ok(Command::Clear));
        assert_eq!(
            parse_command(b"del"),
            Err(CommandError::Missing(Field::Pid))
        );
        assert_eq!(parse_command(b"del 7 8"), Err(CommandError::Trailing));
        assert_eq!(parse_command(b"clear all"), Err(CommandError::Trailing));
    }

    #[test]
    fn commands_round_trip() {
        let restore = Command::Restore {
            dump_fd: 3,
            control_fd: 4,
            process: 2,
            thread: 5,
            lazy_fd: None,
        };
        let lazy = Command::Restore {
            dump_fd: 3,
            control_fd: 4,
            process: 2,
            thread: 5,
            lazy_fd: Some(7),
        };
        assert_eq!(
            parse_command(b"restore 3 4"),
            Ok(Command::Restore {
                dump_fd: 3,
                control_fd: 4,
                process: 0,
                thread: 0,
                lazy_fd: None,
            })
        );
        assert_eq!(parse_command(b"restore 3 4 2 5 7\n"), Ok(lazy));
        assert_eq!(
            parse_command(b"restore 3 4 2 5 -7"),
            Err(CommandError::BadNumber(Field::Fd))
        );
        assert_eq!(
            parse_command(b"restore 3 4 z"),
            Err(CommandError::BadNumber(Field::Process))
        );
        assert_eq!(
            parse_command(b"restore 3 4 1 -2"),
            Err(CommandError::BadNumber(Field::Thread))
        );
        assert_eq!(
            parse_command(b"restore 3 4 1 2 3 4"),
            Err(CommandError::Trailing)
        );
        assert_eq!(
            parse_command(b"restore 3"),
            Err(CommandError::Missing(Field::Fd))
        );
        assert_eq!(
            parse_command(b"restore 3 x"),
            Err(CommandError::BadNumber(Field::Fd))
        );
        for cmd in [
            add(5, 12, 9, b"/tmp/a b"),
            Command::Del(9),
            Command::Clear,
            restore,
            lazy,
        ] {
            let mut v = V(Vec::new());
            cmd.encode(&mut v);
            assert_eq!(parse_command(&v.0), Ok(cmd));
        }
    }

    #[test]
    fn entries_round_trip() {
        let mut e = Entry {
            pid: 12,
            signal: 10,
            flags: 9,
            uid: 1000,
            state: "idle",
            checkpoints: 0,
            last: Last::Never,
            file: b"/tmp/x y=z",
        };
        let mut v = V(Vec::new());
        e.write(&mut v);
        assert_eq!(
            v.0,
            b"pid=12 signal=10 flags=9 uid=1000 state=idle checkpoints=0 last=never file=/tmp/x y=z\n"
        );
        assert_eq!(parse_entry(&v.0), Some(e));
        for last in [
            Last::Ok {
                time: 1_700_000_000,
                size: 4096,
                usec: 1500,
            },
            Last::Failed {
                time: 5,
                errno: 28,
                step: "write",
            },
        ] {
            e.last = last;
            let mut v = V(Vec::new());
            e.write(&mut v);
            assert_eq!(parse_entry(&v.0), Some(e));
        }
        // Fields this version does not know are skipped, missing ones refused.
        let line = b"pid=1 new=3 signal=2 flags=1 uid=0 state=s checkpoints=0 last=never file=/f";
        assert_eq!(parse_entry(line).map(|e| e.file), Some(&b"/f"[..]));
        assert_eq!(parse_entry(b"pid=1 signal=2 flags=1 state=s file=/f"), None);
        assert_eq!(
            parse_entry(b"pid=1 signal=2 flags=1 uid=0 state=s checkpoints=0 last=ok file=/f"),
            None
        );
    }
}
