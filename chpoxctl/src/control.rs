// SPDX-License-Identifier: GPL-2.0

//! Talks to the module through its control file and explains its errors.

use chpox_abi::registration::{self, Command, Sink};
use nix::errno::Errno;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

struct Bytes(Vec<u8>);

impl Sink for Bytes {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn open(control: &Path, write: bool) -> Result<File, String> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .open(control)
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => format!(
                "{} does not exist: the chpox module is not loaded (run 'modprobe chpox' as root)",
                control.display()
            ),
            _ => format!("cannot open {}: {e}", control.display()),
        })
}

/// What an errno from the module means for `cmd`.
fn explain(cmd: &Command<'_>, errno: Errno) -> String {
    match (cmd, errno) {
        (Command::Add(a), Errno::ESRCH) => format!("no process with pid {}", a.pid),
        (Command::Add(a), Errno::EEXIST) => format!(
            "process {} is already registered (run 'chpoxctl del {}' first)",
            a.pid, a.pid
        ),
        (Command::Add(a), Errno::EPERM) => format!(
            "not allowed to checkpoint process {}: it is another user's or not dumpable \
             (needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN)",
            a.pid
        ),
        (Command::Add(_), Errno::ENOSPC) => {
            "too many registrations: delete some with 'chpoxctl del' or 'chpoxctl clear'".into()
        }
        (Command::Del(pid), Errno::ENOENT) => format!("process {pid} is not registered"),
        (Command::Del(pid), Errno::EPERM) => format!(
            "the registration of process {pid} belongs to another user (needs CAP_SYS_ADMIN)"
        ),
        (_, errno) => format!("the chpox module refused the request: {}", errno.desc()),
    }
}

/// Writes `cmd` to the control file in one `write()`.
pub fn send(control: &Path, cmd: &Command<'_>) -> Result<(), String> {
    let mut bytes = Bytes(Vec::with_capacity(registration::COMMAND_MAX));
    cmd.encode(&mut bytes);
    let mut file = open(control, true)?;
    match file.write(&bytes.0) {
        Ok(n) if n == bytes.0.len() => Ok(()),
        Ok(n) => Err(format!(
            "short write to {} ({n} of {} bytes)",
            control.display(),
            bytes.0.len()
        )),
        Err(e) => Err(match e.raw_os_error() {
            Some(raw) => explain(cmd, Errno::from_raw(raw)),
            None => e.to_string(),
        }),
    }
}

fn flags_text(flags: u32) -> String {
    let mut parts = Vec::new();
    if flags & registration::FLAG_PROCESS != 0 {
        parts.push("process");
    }
    if flags & registration::FLAG_DESCENDANTS != 0 {
        parts.push("descendants");
    }
    if flags & registration::FLAG_COMPRESS != 0 {
        parts.push("compress");
    }
    if flags & registration::FLAG_SNAPSHOT != 0 {
        parts.push("snapshot");
    }
    format!("{flags} ({})", parts.join("+"))
}

fn signal_text(signal: u32) -> String {
    match chpox_abi::signal::name(signal) {
        Some(name) => format!("{signal} ({name})"),
        None => signal.to_string(),
    }
}

/// What the last checkpoint did, in words.
fn last_text(last: &registration::Last<'_>) -> String {
    use registration::Last;
    match *last {
        Last::Never => "-".into(),
        Last::Ok { time, size, usec } => {
            format!(
                "ok at {time}: {size} bytes in {}.{:03} ms",
                usec / 1000,
                usec % 1000
            )
        }
        Last::Failed { time, errno, step } => format!(
            "FAILED at {time} ({step}): {}",
            Errno::from_raw(errno as i32).desc()
        ),
    }
}

/// Formats the listing of the control file as a table.
pub fn table(listing: &[u8]) -> Result<String, String> {
    let mut out = format!(
        "{:<8} {:<14} {:<24} {:<6} {:<13} {:<5} {:<40} {}\n",
        "PID", "SIGNAL", "FLAGS", "UID", "STATE", "DUMPS", "LAST CHECKPOINT", "FILE"
    );
    for line in listing.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let e = registration::parse_entry(line).ok_or_else(|| {
            format!(
                "unexpected line from the module: {}",
                String::from_utf8_lossy(line)
            )
        })?;
        out += &format!(
            "{:<8} {:<14} {:<24} {:<6} {:<13} {:<5} {:<40} {}\n",
            e.pid,
            signal_text(e.signal),
            flags_text(e.flags),
            e.uid,
            e.state,
            e.checkpoints,
            last_text(&e.last),
            String::from_utf8_lossy(e.file)
        );
    }
    Ok(out)
}

/// Prints the registrations.
pub fn list(control: &Path) -> Result<(), String> {
    let mut listing = Vec::new();
    open(control, false)?
        .read_to_end(&mut listing)
        .map_err(|e| format!("cannot read {}: {e}", control.display()))?;
    // A reader that stopped early (`chpoxctl list | head -1`) is not an error.
    match std::io::stdout()
        .lock()
        .write_all(table(&listing)?.as_bytes())
    {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_names() {
        let t = table(b"pid=7 signal=12 flags=9 uid=0 state=idle checkpoints=2 last=failed last_time=9 last_errno=28 last_step=write file=/tmp/a b\n").unwrap();
        let row = t.lines().nth(1).unwrap();
        assert!(row.starts_with("7 "), "{row}");
        assert!(
            row.contains("12 (SIGUSR2)") && row.contains("9 (process+descendants)"),
            "{row}"
        );
        assert!(row.ends_with("/tmp/a b"), "{row}");
        assert!(
            row.contains("FAILED at 9 (write): No space left on device"),
            "{row}"
        );
        assert!(table(b"garbage\n").is_err());
    }

    #[test]
    fn errors_name_the_problem() {
        let add = Command::Add(registration::Add {
            pid: 5,
            signal: 12,
            flags: 9,
            path: b"/a",
        });
        assert!(explain(&add, Errno::ESRCH).contains("no process with pid 5"));
        assert!(explain(&add, Errno::EEXIST).contains("already registered"));
        assert!(explain(&add, Errno::EPERM).contains("not allowed"));
        assert!(explain(&Command::Del(5), Errno::ENOENT).contains("not registered"));
    }

    #[test]
    fn missing_module_is_explained() {
        let err = send(Path::new("/nonexistent/chpox"), &Command::Clear).unwrap_err();
        assert!(err.contains("modprobe chpox"), "{err}");
    }
}
