// SPDX-License-Identifier: GPL-2.0

//! Why a restore fails: what the modules of [`super`] return to each other
//! and, in the end, ld-chpox prints after `cannot restore DUMP:`.

use super::identity::Refusal;
use chpox_abi::dump::DumpError;
use std::fmt;

#[derive(Debug)]
pub(crate) enum Error {
    /// A system call failed while doing `what`.
    Sys {
        what: String,
        source: std::io::Error,
    },
    /// The dump does not hold what the restore needs.
    Dump(DumpError),
    /// A privileged ld-chpox refuses the dump ([`super::identity`]).
    Refused(Refusal),
    /// What went wrong in process `pid` of a tree.
    InProcess { pid: i32, source: Box<Error> },
    /// What went wrong in thread `tid` of a process.
    InThread { tid: i32, source: Box<Error> },
    /// Anything else, in words.
    Other(String),
}

impl Error {
    /// A failed system call: `what`, and the error it left.
    pub(crate) fn sys(what: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        Error::Sys {
            what: what.into(),
            source: source.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys { what, source } => write!(f, "{what}: {source}"),
            Error::Dump(e) => write!(f, "{e}"),
            Error::Refused(r) => write!(f, "{r}"),
            Error::InProcess { pid, source } => write!(f, "pid {pid}: {source}"),
            Error::InThread { tid, source } => write!(f, "thread {tid}: {source}"),
            Error::Other(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(text: String) -> Self {
        Error::Other(text)
    }
}

impl From<&str> for Error {
    fn from(text: &str) -> Self {
        Error::Other(text.into())
    }
}

impl From<DumpError> for Error {
    fn from(e: DumpError) -> Self {
        Error::Dump(e)
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_worded_as_before() {
        let e = Error::sys("setsid", nix::errno::Errno::EPERM);
        assert_eq!(
            e.to_string(),
            "setsid: Operation not permitted (os error 1)"
        );
        assert_eq!(
            Error::from("a process without its parent").to_string(),
            "a process without its parent"
        );
    }
}
