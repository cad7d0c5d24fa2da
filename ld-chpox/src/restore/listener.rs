// SPDX-License-Identifier: GPL-2.0

//! A listening unix socket, bound to its name again. The dumped listener's
//! socket file is still there (its process was killed, it was never
//! unlinked): it is replaced, unless a live listener answers on it — the
//! original still running — which is an error rather than a theft.

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
    let kind = if state.kind == socket_type::SEQPACKET {
        libc::SOCK_SEQPACKET
    } else {
        libc::SOCK_STREAM
    };
    if state.name.first() != Some(&0) {
        let path = Path::new(std::ffi::OsStr::from_bytes(state.name));
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
    let fd = socket(kind)?;
    let (addr, len) = address(state.name);
    let listen = || -> Result<(), String> {
        // SAFETY: `addr` is a valid address of `len` bytes.
        let bound = unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_un).cast(), len) };
        raw(
            bound.into(),
            &format!("binding a listening socket to {name}"),
        )?;
        let backlog = state.listening.unwrap_or(0).min(i32::MAX as u32) as i32;
        // SAFETY: plain listen() on our socket.
        raw(
            unsafe { libc::listen(fd, backlog) }.into(),
            &format!("listening on {name}"),
        )?;
        Ok(())
    };
    listen().inspect_err(|_| {
        // SAFETY: our socket, not handed out.
        unsafe { libc::close(fd) };
    })?;
    Ok(fd)
}
