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

use super::sys;
use super::Error;
use chpox_abi::ipc::{socket_type, SocketState};
use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrLike, UnixAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
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

/// The address of `name`, byte for byte (an abstract name may hold NULs,
/// and a path may fill `sun_path` without a terminating NUL, which nix's
/// constructors refuse).
fn address(name: &[u8]) -> UnixAddr {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in addr.sun_path.iter_mut().zip(name) {
        *dst = src as libc::c_char;
    }
    // The decoder bounds names to `sun_path`; so does the copy above.
    let len =
        std::mem::offset_of!(libc::sockaddr_un, sun_path) + name.len().min(addr.sun_path.len());
    // SAFETY: `addr` is an AF_UNIX address of which `len` (at most its
    // size) bytes are meant.
    unsafe { UnixAddr::from_raw((&raw const addr).cast(), Some(len as libc::socklen_t)) }
        .expect("an AF_UNIX address of at most sockaddr_un's size")
}

/// A socket type of the dump as `socket()` takes it.
pub(crate) fn kind_of(state: &SocketState<'_>) -> SockType {
    match state.kind {
        socket_type::STREAM => SockType::Stream,
        socket_type::DGRAM => SockType::Datagram,
        _ => SockType::SeqPacket,
    }
}

fn socket(kind: SockType, flags: SockFlag) -> Result<OwnedFd, Error> {
    sys(
        socket::socket(
            AddressFamily::Unix,
            kind,
            flags | SockFlag::SOCK_CLOEXEC,
            None,
        ),
        "socket",
    )
}

/// Whether something accepts connections at `name` (of socket type `kind`).
fn answered(name: &[u8], kind: SockType) -> Result<bool, Error> {
    let probe = socket(kind, SockFlag::SOCK_NONBLOCK)?;
    Ok(matches!(
        socket::connect(probe.as_raw_fd(), &address(name)),
        Ok(()) | Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS)
    ))
}

/// A new socket listening on the dumped listener's name with its backlog.
pub(crate) fn listen_again(state: &SocketState<'_>) -> Result<OwnedFd, Error> {
    let name = shown(state.name);
    let kind = kind_of(state);
    if let Some(path) = path_of(state.name) {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!("{name}, where a socket listened, is now not a socket").into());
            }
            if answered(state.name, kind)? {
                return Err(
                    format!("{name} has a live listener (is the original still running?)").into(),
                );
            }
            std::fs::remove_file(path).map_err(|e| format!("removing the stale {name}: {e}"))?;
        }
    }
    let backlog = state.listening.unwrap_or(0).min(i32::MAX as u32) as i32;
    listen_on(state.name, kind, backlog)
}

/// `listen()` with the dumped backlog as it is: nix's `Backlog` refuses
/// `SOMAXCONN` and above, which the kernel takes (and caps).
fn listen(fd: BorrowedFd<'_>, backlog: i32) -> nix::Result<()> {
    // SAFETY: plain listen() on a socket; no memory is involved.
    Errno::result(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// A socket of type `kind` bound to `name` and listening.
fn listen_on(name: &[u8], kind: SockType, backlog: i32) -> Result<OwnedFd, Error> {
    let fd = socket(kind, SockFlag::empty())?;
    sys(
        socket::bind(fd.as_raw_fd(), &address(name)),
        &format!("binding a listening socket to {}", shown(name)),
    )?;
    sys(
        listen(fd.as_fd(), backlog),
        &format!("listening on {}", shown(name)),
    )?;
    Ok(fd)
}

/// A connection through `listener` (listening on `name`): the connecting
/// end and the accepted one, which has `name` as its own address.
pub(crate) fn connect_through(
    listener: RawFd,
    name: &[u8],
    kind: SockType,
) -> Result<(OwnedFd, OwnedFd), Error> {
    let client = socket(kind, SockFlag::empty())?;
    sys(
        socket::connect(client.as_raw_fd(), &address(name)),
        &format!("connecting to {}", shown(name)),
    )?;
    let accepted = sys(
        socket::accept4(listener, SockFlag::SOCK_CLOEXEC),
        &format!("accepting on {}", shown(name)),
    )?;
    // SAFETY: accept4() just made this descriptor; nothing else owns it.
    let accepted = unsafe { OwnedFd::from_raw_fd(accepted) };
    // Someone else may have connected first: the connection must be ours.
    if peer_pid(&accepted) != Some(std::process::id() as i32) {
        return Err(format!(
            "another program connected to {} during the restore",
            shown(name)
        )
        .into());
    }
    Ok((client, accepted))
}

/// A connection whose accepting end is named `name`, when no listener of
/// the dump has that name (it was closed after the accept): a listener is
/// bound there just for the connection, if the name is free, and removed
/// again. None if the name is taken.
pub(crate) fn connect_named(
    name: &[u8],
    kind: SockType,
) -> Result<Option<(OwnedFd, OwnedFd)>, Error> {
    let path = path_of(name);
    if path.is_some_and(|p| std::fs::symlink_metadata(p).is_ok()) {
        return Ok(None);
    }
    let Ok(listener) = listen_on(name, kind, 1) else {
        return Ok(None);
    };
    let pair = connect_through(listener.as_raw_fd(), name, kind);
    drop(listener);
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    pair.map(Some)
}

/// The pid of the process that made the connection at the other end.
fn peer_pid(fd: &OwnedFd) -> Option<i32> {
    socket::getsockopt(fd, sockopt::PeerCredentials)
        .ok()
        .map(|cred| cred.pid())
}

#[cfg(test)]
mod tests {
    use super::address;
    use std::path::Path;

    #[test]
    fn addresses_are_the_names_byte_for_byte() {
        assert_eq!(
            address(b"/tmp/x.sock").path(),
            Some(Path::new("/tmp/x.sock"))
        );
        assert_eq!(address(b"\0a\0b").as_abstract(), Some(&b"a\0b"[..]));
        // A path that fills sun_path has no terminating NUL.
        let full = [b'a'; 108];
        assert_eq!(address(&full).path_len(), 108);
    }
}
