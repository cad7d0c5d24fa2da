// SPDX-License-Identifier: GPL-2.0

//! Sockets (`struct socket`, `struct sock`), AF_UNIX ones in particular,
//! and their receive queues.

use crate::kernel_ext::bindings;
use crate::kernel_ext::file::File;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// `AF_UNIX`.
const AF_UNIX: u16 = 1;
/// `TCP_LISTEN`, the state of every listening socket.
const TCP_LISTEN: u8 = 10;
/// `offsetof(struct sockaddr_un, sun_path)`: the family before it.
const SUN_PATH_OFFSET: i32 = 2;

/// The BSD side of a socket: a `struct socket`.
///
/// # Invariants
///
/// The socket is valid for the lifetime of the reference (its file, or a
/// referenced sock attached to it, holds it).
#[repr(transparent)]
pub(crate) struct Socket(Opaque<bindings::socket>);

impl Socket {
    /// The socket of an open socket file, `None` for other files.
    pub(crate) fn of_file(file: &File) -> Option<&Socket> {
        // SAFETY: the file is valid; the result is its socket or null.
        let socket = unsafe { bindings::sock_from_file(file.as_ptr()) };
        // INVARIANT: the file holds its socket.
        // SAFETY: `Socket` is a transparent wrapper; valid as long as the
        // file, which outlives the borrow.
        (!socket.is_null()).then(|| unsafe { &*socket.cast::<Socket>() })
    }

    fn as_ptr(&self) -> *mut bindings::socket {
        self.0.get()
    }

    /// Its type (`SOCK_STREAM`, `SOCK_DGRAM`, …).
    pub(crate) fn kind(&self) -> u32 {
        // SAFETY: the socket is valid; the type is set at creation.
        unsafe { (*self.as_ptr()).type_ as u32 }
    }

    /// Its network side, `None` once released.
    pub(crate) fn sock(&self) -> Option<&Sock> {
        // SAFETY: the socket is valid.
        let sk = unsafe { (*self.as_ptr()).sk };
        // SAFETY: a sock attached to a valid socket lives as long as it.
        (!sk.is_null()).then(|| unsafe { &*sk.cast::<Sock>() })
    }

    /// The number of the socket's inode.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: the socket is valid, and so its inode.
        unsafe { bindings::chpox_socket_ino(self.as_ptr()) as u64 }
    }
}

/// The network side of a socket: a `struct sock`.
///
/// # Invariants
///
/// The sock is valid: its reference count is non-zero.
#[repr(transparent)]
pub(crate) struct Sock(Opaque<bindings::sock>);

// SAFETY: `sock_hold()` and `sock_put()` take and drop a reference.
unsafe impl AlwaysRefCounted for Sock {
    fn inc_ref(&self) {
        // SAFETY: the sock is valid, so its count is non-zero.
        unsafe { bindings::chpox_sock_hold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns one reference.
        unsafe { bindings::chpox_sock_put(obj.cast().as_ptr()) }
    }
}

impl Sock {
    fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Whether it is an AF_UNIX socket.
    pub(crate) fn is_unix(&self) -> bool {
        // SAFETY: the sock is valid; the family is set at creation.
        unsafe { bindings::chpox_sk_family(self.as_ptr()) == AF_UNIX }
    }

    /// The peer of a unix socket (`unix_peer_get()`), if connected.
    pub(crate) fn unix_peer(&self) -> Option<ARef<Sock>> {
        // SAFETY: a valid unix sock; the result is referenced or null.
        let peer = unsafe { bindings::chpox_unix_peer(self.as_ptr()) };
        // INVARIANT: unix_peer_get() took a reference, now ours.
        // SAFETY: as above.
        NonNull::new(peer).map(|p| unsafe { ARef::from_raw(p.cast()) })
    }

    /// The socket it belongs to, `None` once detached.
    pub(crate) fn socket(&self) -> Option<&Socket> {
        // SAFETY: the sock is valid.
        let socket = unsafe { bindings::chpox_sk_socket(self.as_ptr()) };
        // INVARIANT: a socket attached to a valid sock is alive while the
        // sock is referenced.
        // SAFETY: as above.
        (!socket.is_null()).then(|| unsafe { &*socket.cast::<Socket>() })
    }

    /// Its shutdown state (`RCV_SHUTDOWN`, `SEND_SHUTDOWN` bits).
    pub(crate) fn shutdown(&self) -> u32 {
        // SAFETY: the sock is valid.
        unsafe { bindings::chpox_sk_shutdown(self.as_ptr()) }
    }

    /// Its backlog if it listens.
    pub(crate) fn listening_backlog(&self) -> Option<u32> {
        // SAFETY: the sock is valid.
        if unsafe { bindings::chpox_sk_state(self.as_ptr()) } != TCP_LISTEN {
            return None;
        }
        // SAFETY: as above.
        Some(unsafe { bindings::chpox_sk_max_ack_backlog(self.as_ptr()) })
    }

    /// Copies the `sun_path` a unix socket is bound to (without the
    /// terminating NUL of a file system name) into `buf`; returns its
    /// length, 0 if unbound.
    pub(crate) fn unix_name(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: a valid unix sock; the address is set once by bind() and
        // freed with the sock (read as unix_getname() does).
        let addr = unsafe { bindings::chpox_unix_address(self.as_ptr()) };
        if addr.is_null() {
            return Ok(0);
        }
        // SAFETY: the address is alive with the sock, and complete once
        // published.
        let (len, path) = unsafe {
            (
                bindings::chpox_unix_address_len(addr),
                bindings::chpox_unix_address_path(addr).cast::<u8>(),
            )
        };
        let mut len = len.checked_sub(SUN_PATH_OFFSET).ok_or(EINVAL)?;
        if len > 0 {
            // SAFETY: the address holds `len` bytes of path.
            let (first, last) = unsafe { (*path, *path.add(len as usize - 1)) };
            if first != 0 && last == 0 {
                len -= 1;
            }
        }
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        let out = buf.get_mut(..len).ok_or(EINVAL)?;
        // SAFETY: as above: `len` bytes of path.
        out.copy_from_slice(unsafe { core::slice::from_raw_parts(path, len) });
        Ok(len)
    }

    /// Takes the receive queue's spinlock.
    pub(crate) fn lock_receive_queue(&self) -> ReceiveQueueGuard<'_> {
        // SAFETY: the sock is valid.
        unsafe { bindings::chpox_sk_queue_lock(self.as_ptr()) };
        // INVARIANT: locked just above.
        ReceiveQueueGuard(self)
    }
}

/// The locked receive queue of a sock, unlocked on drop.
///
/// # Invariants
///
/// The queue's spinlock is held by this guard.
pub(crate) struct ReceiveQueueGuard<'a>(&'a Sock);

impl<'a> ReceiveQueueGuard<'a> {
    /// The buffer after `skb` in the queue (the first if `None`).
    fn next(&self, skb: Option<&SkBuff>) -> Option<&SkBuff> {
        let sk = self.0.as_ptr();
        // SAFETY: the queue is locked; `skb`, if any, is queued on it.
        let next = unsafe {
            match skb {
                None => bindings::chpox_sk_queue_peek(sk),
                Some(skb) => bindings::chpox_sk_queue_peek_next(sk, skb.as_ptr()),
            }
        };
        // SAFETY: a queued buffer stays while the lock is held, which the
        // borrow of `self` covers.
        (!next.is_null()).then(|| unsafe { &*next.cast::<SkBuff>() })
    }

    /// The queued buffers, first to last.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SkBuff> + '_ {
        let mut skb = self.next(None);
        core::iter::from_fn(move || {
            let this = skb?;
            skb = self.next(Some(this));
            Some(this)
        })
    }
}

impl Drop for ReceiveQueueGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: locked, by the type invariant.
        unsafe { bindings::chpox_sk_queue_unlock(self.0.as_ptr()) };
    }
}

/// A socket buffer queued on a locked receive queue.
///
/// # Invariants
///
/// The buffer is queued, and so valid, for the lifetime of the reference.
#[repr(transparent)]
pub(crate) struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Bytes of data.
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: the buffer is valid.
        unsafe { bindings::chpox_skb_len(self.as_ptr()) }
    }

    /// Bytes of a unix stream buffer already read.
    pub(crate) fn unix_consumed(&self) -> u32 {
        // SAFETY: the buffer is valid and queued on a unix socket.
        unsafe { bindings::chpox_unix_skb_consumed(self.as_ptr()) }
    }

    /// Whether a unix buffer carries descriptors (`SCM_RIGHTS`).
    pub(crate) fn unix_has_fds(&self) -> bool {
        // SAFETY: as above.
        unsafe { bindings::chpox_unix_skb_has_fds(self.as_ptr()) }
    }

    /// Copies the bytes at `offset` into `dst`.
    pub(crate) fn copy_bits(&self, offset: u32, dst: &mut [u8]) -> Result {
        let offset = i32::try_from(offset).map_err(|_| EINVAL)?;
        let len = i32::try_from(dst.len()).map_err(|_| EINVAL)?;
        // SAFETY: the buffer is valid; `dst` has `len` bytes of room.
        let ret =
            unsafe { bindings::skb_copy_bits(self.as_ptr(), offset, dst.as_mut_ptr().cast(), len) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }
}
