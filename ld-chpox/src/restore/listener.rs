// SPDX-License-Identifier: GPL-2.0

//! Names of unix sockets. A listening socket is bound to its name again.
//! The dumped listener's socket file is still there (its process was
//! killed, it was never unlinked): it is replaced, unless a live listener
//! answers on it — the original still running — which is an error rather
//! than a theft.
//!
//! A connection accepted from a named listener is made again the same way,
//! by connecting to the restored listener and accepting, so that the
//! accepted end has the listener's name and the other end sees it as its
//! peer's (`getsockname()`, `getpeername()`), as before the checkpoint.

use super::raw;
use chpox_abi::ipc::{socket_type, SocketState};
use nix::libc;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// The name for people: the path, or `@name` for the abstract namespace.
pub(crate) fn shown(name: &[u8]) -> String {
    match name.split_first() {
        Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
        _ => String::from_utf8_lossy(name).into_owned(),
    }
}

/// The file a name stands for; None for the abstract namespace.
fn path_of(name: &[u8]) -> Option<&Path> {
    (name.first() != Some(&0)).then(|| Path::new(std::ffi::OsStr::from_bytes(name)))
}

fn address(name: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in addr.sun_path.iter_mut().zip(name) {
        *dst = src as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + name.len();
    (addr, len as libc::socklen_t)
}

/// A socket type of the dump as `socket()` takes it.
pub(crate) fn kind_of(state: &SocketState<'_>) -> i32 {
    match state.kind {
        socket_type::STREAM => libc::SOCK_STREAM,
        socket_type::DGRAM => libc::SOCK_DGRAM,
        _ => libc::SOCK_SEQPACKET,
    }
}

fn socket(kind: i32) -> Result<i32, String> {
    // SAFETY: creates a socket; no memory is involved.
    let fd = unsafe { libc::socket(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0) };
    raw(fd.into(), "socket").map(|fd| fd as i32)
}

/// Whether something accepts connections at `name` (of socket type `kind`).
fn answered(name: &[u8], kind: i32) -> Result<bool, String> {
    let probe = socket(kind | libc::SOCK_NONBLOCK)?;
    let (addr, len) = address(name);
    // SAFETY: `addr` is a valid address of `len` bytes.
    let ret = unsafe { libc::connect(probe, (&addr as *const libc::sockaddr_un).cast(), len) };
    let err = std::io::Error::last_os_error().raw_os_error();
    // SAFETY: our probe socket.
    unsafe { libc::close(probe) };
    Ok(ret == 0 || err == Some(libc::EAGAIN) || err == Some(libc::EINPROGRESS))
}

/// A new socket listening on the dumped listener's name with its backlog.
pub(crate) fn listen_again(state: &SocketState<'_>) -> Result<i32, String> {
    let name = shown(state.name);
    let kind = kind_of(state);
    if let Some(path) = path_of(state.name) {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!(
                    "{name}, where a socket listened, is now not a socket"
                ));
            }
            if answered(state.name, kind)? {
                return Err(format!(
                    "{name} has a live listener (is the original still running?)"
                ));
            }
            std::fs::remove_file(path).map_err(|e| format!("removing the stale {name}: {e}"))?;
        }
    }
    let backlog = state.listening.unwrap_or(0).min(i32::MAX as u32) as i32;
    listen_on(state.name, kind, backlog)
}

/// A socket of type `kind` bound to `name` and listening.
fn listen_on(name: &[u8], kind: i32, backlog: i32) -> Result<i32, String> {
    let fd = socket(kind)?;
    let (addr, len) = address(name);
    let listen = || -> Result<(), String> {
        // SAFETY: `addr` is a valid address of `len` bytes.
        let bound = unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_un).cast(), len) };
        raw(
            bound.into(),
            &format!("binding a listening socket to {}", shown(name)),
        )?;
        // SAFETY: plain listen() on our socket.
        raw(
            unsafe { libc::listen(fd, backlog) }.into(),
            &format!("listening on {}", shown(name)),
        )?;
        Ok(())
    };
    listen().inspect_err(|_| {
        // SAFETY: our socket, not handed out.
        unsafe { libc::close(fd) };
    })?;
    Ok(fd)
}

/// A connection through `listener` (listening on `name`): the connecting
/// end and the accepted one, which has `name` as its own address.
pub(crate) fn connect_through(listener: i32, name: &[u8], kind: i32) -> Result<(i32, i32), String> {
    let client = socket(kind)?;
    let (addr, len) = address(name);
    // SAFETY: `addr` is a valid address of `len` bytes.
    let ret = unsafe { libc::connect(client, (&addr as *const libc::sockaddr_un).cast(), len) };
    let accepted = raw(ret.into(), &format!("connecting to {}", shown(name))).and_then(|_| {
        // SAFETY: accepts on our listening socket; no address wanted.
        let fd = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        raw(fd.into(), &format!("accepting on {}", shown(name))).map(|fd| fd as i32)
    });
    let accepted = accepted.and_then(|fd| {
        // Someone else may have connected first: the connection must be ours.
        if peer_pid(fd) == Some(std::process::id() as i32) {
            Ok(fd)
        } else {
            // SAFETY: the stranger's connection, ours to close.
            unsafe { libc::close(fd) };
            Err(format!(
                "another program connected to {} during the restore",
                shown(name)
            ))
        }
    });
    accepted.map(|fd| (client, fd)).inspect_err(|_| {
        // SAFETY: our socket, not handed out.
        unsafe { libc::close(client) };
    })
}

/// A connection whose accepting end is named `name`, when no listener of
/// the dump has that name (it was closed after the accept): a listener is
/// bound there just for the connection, if the name is free, and removed
/// again. None if the name is taken.
pub(crate) fn connect_named(name: &[u8], kind: i32) -> Result<Option<(i32, i32)>, String> {
    let path = path_of(name);
    if path.is_some_and(|p| std::fs::symlink_metadata(p).is_ok()) {
        return Ok(None);
    }
    let Ok(listener) = listen_on(name, kind, 1) else {
        return Ok(None);
    };
    let pair = connect_through(listener, name, kind);
    // SAFETY: our temporary listener.
    unsafe { libc::close(listener) };
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    pair.map(Some)
}

/// The pid of the process that made the connection at the other end.
fn peer_pid(fd: i32) -> Option<i32> {
    // SAFETY: all-zero is a valid ucred.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt() writes at most `len` bytes into `cred`.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (ret == 0).then_some(cred.pid)
}
