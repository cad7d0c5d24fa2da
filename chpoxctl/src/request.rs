// SPDX-License-Identifier: GPL-2.0

//! Turns command-line words into a `/proc/chpox` command, checking them with
//! the same rules the module applies so that mistakes get a precise message
//! before anything reaches the kernel. [`pid`], [`signal`] and [`flags`] are
//! clap value parsers; their messages reach the user as `chpoxctl: MESSAGE`.

use chpox_abi::registration::{self, Add, Command, CommandError};
use chpox_abi::signal;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Value parser: a process id, a positive number.
pub fn pid(text: &str) -> Result<i32, String> {
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("'{text}' is not a process id (a positive number)")),
    }
}

/// Value parser: a signal number or name that may trigger a checkpoint.
pub fn signal(text: &str) -> Result<u32, String> {
    let sig = signal::parse(text)
        .ok_or_else(|| format!("'{text}' is not a signal (try a number or a name like SIGUSR2)"))?;
    signal::check_usable(sig)
        .map_err(|e| format!("signal {text} cannot be used: {}", e.describe()))?;
    Ok(sig)
}

/// Value parser: a registration flag mask, decimal or `0x` hexadecimal.
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

/// The flag bits `--compress` and `--snapshot` add.
pub fn option_flags(compress: bool, snapshot: bool) -> u32 {
    let bit = |on: bool, flag: u32| if on { flag } else { 0 };
    bit(compress, registration::FLAG_COMPRESS) | bit(snapshot, registration::FLAG_SNAPSHOT)
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

/// The `add` command for arguments clap has already parsed.
pub fn add(pid: i32, signal: u32, flags: u32, file: &Path) -> Result<Command<'_>, String> {
    Ok(Command::Add(Add {
        pid,
        signal,
        flags,
        path: dump_path(file)?.as_os_str().as_bytes(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_words() {
        let cmd = add(42, signal("SIGUSR2").unwrap(), 9, Path::new("/tmp/a.dump")).unwrap();
        assert_eq!(
            cmd,
            Command::Add(Add {
                pid: 42,
                signal: 12,
                flags: 9,
                path: b"/tmp/a.dump"
            })
        );
        assert_eq!(pid("42"), Ok(42));
        assert_eq!(signal("12"), Ok(12));
        assert_eq!(signal("usr2"), Ok(12));
        assert_eq!(signal("rtmin+1"), Ok(35));
        assert_eq!(signal("SIGRTMIN+1"), Ok(35));
        assert_eq!(flags("0x9"), Ok(9));
        assert_eq!(flags("1"), Ok(1));
    }

    #[test]
    fn explains_bad_words() {
        let p = Path::new("/tmp/a");
        assert!(pid("0").unwrap_err().contains("not a process id"));
        assert!(pid("abc").unwrap_err().contains("not a process id"));
        assert!(signal("SIGFOO").unwrap_err().contains("not a signal"));
        assert!(signal("SIGKILL")
            .unwrap_err()
            .contains("cannot be intercepted"));
        assert!(signal("0").unwrap_err().contains("from 1 to 64"));
        assert!(signal("65").unwrap_err().contains("from 1 to 64"));
        assert!(signal("SIGCONT").unwrap_err().contains("SIGCONT"));
        assert!(flags("3").unwrap_err().contains("unknown flag bits 0x2"));
        assert!(flags("x").unwrap_err().contains("not a flag mask"));
        assert!(add(1, 12, 9, Path::new("a.dump"))
            .unwrap_err()
            .contains("must be an absolute path"));
        assert!(add(1, 12, 9, Path::new("/no/such/dir/a"))
            .unwrap_err()
            .contains("does not exist"));
        assert!(add(1, 12, 9, p).is_ok());
    }
}
