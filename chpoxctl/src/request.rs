// SPDX-License-Identifier: GPL-2.0

//! Turns command-line words into a `/proc/chpox` command, checking them with
//! the same rules the module applies so that mistakes get a precise message
//! before anything reaches the kernel.

use chpox_abi::registration::{self, Add, Command, CommandError};
use chpox_abi::signal;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub fn pid(text: &str) -> Result<i32, String> {
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("'{text}' is not a process id (a positive number)")),
    }
}

pub fn signal(text: &str) -> Result<u32, String> {
    let sig = signal::parse(text)
        .ok_or_else(|| format!("'{text}' is not a signal (try a number or a name like SIGUSR2)"))?;
    signal::check_usable(sig)
        .map_err(|e| format!("signal {text} cannot be used: {}", e.describe()))?;
    Ok(sig)
}

pub fn flags(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse::<u32>(),
    };
    let flags = parsed.map_err(|_| {
        format!(
            "'{text}' is not a flag mask (1 = the process, 9 = the process and its descendants)"
        )
    })?;
    registration::check_flags(flags).map_err(|e| format!("flags {text}: {e}"))?;
    Ok(flags)
}

pub fn dump_path(path: &Path) -> Result<&Path, String> {
    match registration::check_path(path.as_os_str().as_bytes()) {
        Ok(()) => {}
        Err(CommandError::RelativePath) => {
            let hint = std::env::current_dir()
                .map(|d| format!(" (did you mean {}?)", d.join(path).display()))
                .unwrap_or_default();
            return Err(format!(
                "dump file '{}' must be an absolute path{hint}",
                path.display()
            ));
        }
        Err(e) => return Err(format!("dump file '{}': {e}", path.display())),
    }
    // The kernel writes the dump beside its final name, so the directory must
    // exist; saying so now beats a failed checkpoint later.
    let dir = path.parent().unwrap_or(Path::new("/"));
    if !dir.is_dir() {
        return Err(format!(
            "directory {} of the dump file does not exist",
            dir.display()
        ));
    }
    Ok(path)
}

pub fn add<'a>(
    pid_text: &str,
    sig: &str,
    flags_text: &str,
    file: &'a Path,
) -> Result<Command<'a>, String> {
    Ok(Command::Add(Add {
        pid: pid(pid_text)?,
        signal: signal(sig)?,
        flags: flags(flags_text)?,
        path: dump_path(file)?.as_os_str().as_bytes(),
    }))
}

pub fn del(pid_text: &str) -> Result<Command<'static>, String> {
    Ok(Command::Del(pid(pid_text)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_words() {
        let cmd = add("42", "SIGUSR2", "9", Path::new("/tmp/a.dump")).unwrap();
        assert_eq!(
            cmd,
            Command::Add(Add {
                pid: 42,
                signal: 12,
                flags: 9,
                path: b"/tmp/a.dump"
            })
        );
        assert_eq!(signal("rtmin+1"), Ok(35));
        assert_eq!(flags("0x9"), Ok(9));
    }

    #[test]
    fn explains_bad_words() {
        let err = |r: Result<Command<'_>, String>| r.unwrap_err();
        let p = Path::new("/tmp/a");
        assert!(err(add("0", "12", "9", p)).contains("not a process id"));
        assert!(err(add("abc", "12", "9", p)).contains("not a process id"));
        assert!(err(add("1", "SIGFOO", "9", p)).contains("not a signal"));
        assert!(err(add("1", "SIGKILL", "9", p)).contains("cannot be intercepted"));
        assert!(err(add("1", "0", "9", p)).contains("from 1 to 64"));
        assert!(err(add("1", "65", "9", p)).contains("from 1 to 64"));
        assert!(err(add("1", "SIGCONT", "9", p)).contains("SIGCONT"));
        assert!(err(add("1", "12", "3", p)).contains("unknown flag bits 0x2"));
        assert!(err(add("1", "12", "x", p)).contains("not a flag mask"));
        assert!(err(add("1", "12", "9", Path::new("a.dump"))).contains("must be an absolute path"));
        assert!(err(add("1", "12", "9", Path::new("/no/such/dir/a"))).contains("does not exist"));
    }
}
