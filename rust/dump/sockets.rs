// SPDX-License-Identifier: GPL-2.0

//! A unix socket: its type, its peer, its shutdown state, the name it is
//! bound to, whether it listens, and the messages waiting in its receive
//! queue, read without consuming them. Other sockets get no section
//! (ld-chpox reports them as not restorable).

use super::objects::FileRef;
use crate::abi::dump::SectionKind;
use crate::abi::ipc::{SocketName, SocketState, SOCKET_HEAD, SUN_PATH_MAX};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

/// Attempts at reading a queue that others keep changing.
const ATTEMPTS: usize = 4;

/// The receive queue's lock, released on drop.
struct QueueLock(*mut bindings::sock);

impl QueueLock {
    fn new(sk: *mut bindings::sock) -> Self {
        // SAFETY: the caller's file reference keeps the socket alive.
        unsafe { bindings::chpox_sk_queue_lock(sk) };
        QueueLock(sk)
    }

    /// The buffers of the queue with their unread part: (skb, offset, len).
    fn for_each(&self, mut f: impl FnMut(*mut bindings::sk_buff, u32, u32) -> Result) -> Result {
        // SAFETY: the queue is locked, so its buffers stay queued.
        let mut skb = unsafe { bindings::chpox_sk_queue_next(self.0, core::ptr::null_mut()) };
        while !skb.is_null() {
            // SAFETY: as above; `skb` is queued.
            let (len, consumed, fds) = unsafe {
                (
                    bindings::chpox_skb_len(skb),
                    bindings::chpox_unix_skb_consumed(skb),
                    bindings::chpox_unix_skb_has_fds(skb),
                )
            };
            if fds {
                // Descriptors in flight (SCM_RIGHTS) are not dumped yet.
                return Err(crate::kernel_ext::errno::EOPNOTSUPP());
            }
            f(skb, consumed, len.saturating_sub(consumed))?;
            // SAFETY: as above.
            skb = unsafe { bindings::chpox_sk_queue_next(self.0, skb) };
        }
        Ok(())
    }
}

impl Drop for QueueLock {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { bindings::chpox_sk_queue_unlock(self.0) };
    }
}

/// The queued messages: their lengths and their bytes end to end.
fn queued(sk: *mut bindings::sock) -> Result<(KVVec<u32>, KVVec<u8>)> {
    for _ in 0..ATTEMPTS {
        let (mut count, mut total) = (0usize, 0usize);
        QueueLock::new(sk).for_each(|_, _, len| {
            count += 1;
            total += len as usize;
            Ok(())
        })?;
        // Allocated outside the spinlock, filled under it.
        let mut lens = KVVec::with_capacity(count, GFP_KERNEL)?;
        let mut bytes = KVVec::from_elem(0u8, total, GFP_KERNEL)?;
        let mut at = 0usize;
        let same = QueueLock::new(sk).for_each(|skb, offset, len| {
            let end = at + len as usize;
            if end > bytes.len() || lens.len() == count {
                return Err(EAGAIN); // grew meanwhile
            }
            // SAFETY: `skb` is queued under the lock; the destination has
            // `len` bytes of room.
            let ret = unsafe {
                bindings::skb_copy_bits(
                    skb,
                    offset as i32,
                    bytes[at..end].as_mut_ptr().cast(),
                    len as i32,
                )
            };
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
            lens.push(len, GFP_ATOMIC)?;
            at = end;
            Ok(())
        });
        match same {
            Ok(()) if at == total => return Ok((lens, bytes)),
            Ok(()) | Err(EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(EAGAIN)
}

/// The inode number of the socket of `sk`, 0 if it has none any more.
fn inode_of(sk: *mut bindings::sock) -> u64 {
    // SAFETY: the caller holds a reference to `sk`.
    let socket = unsafe { bindings::chpox_sk_socket(sk) };
    if socket.is_null() {
        return 0;
    }
    // SAFETY: a socket attached to a referenced sock is alive.
    unsafe { bindings::chpox_socket_ino(socket) as u64 }
}

pub(super) fn write(out: &mut DumpFile, file: &FileRef, ino: u64) -> Result {
    // SAFETY: the reference keeps the file and its socket alive.
    let socket = unsafe { bindings::sock_from_file(file.as_ptr()) };
    if socket.is_null() {
        return Ok(());
    }
    // SAFETY: as above.
    let (sk, kind) = unsafe { ((*socket).sk, (*socket).type_ as u32) };
    // SAFETY: `sk` belongs to the live socket.
    if sk.is_null() || !unsafe { bindings::chpox_sk_is_unix(sk) } {
        return Ok(());
    }
    // SAFETY: unix_peer_get() returns a referenced peer or null.
    let peer_sk = unsafe { bindings::chpox_unix_peer(sk) };
    let peer = if peer_sk.is_null() {
        0
    } else {
        let ino = inode_of(peer_sk);
        // SAFETY: drops the reference unix_peer_get() took.
        unsafe { bindings::chpox_sock_put(peer_sk) };
        ino
    };
    // SAFETY: `sk` is alive.
    let shutdown = unsafe { bindings::chpox_sk_shutdown(sk) };
    let mut name = [0u8; SUN_PATH_MAX];
    // SAFETY: `sk` is a live unix socket; `name` has room for any sun_path.
    let name_len =
        unsafe { bindings::chpox_unix_name(sk, name.as_mut_ptr().cast(), name.len() as i32) };
    let name = &name[..usize::try_from(name_len).map_err(|_| EINVAL)?];
    let mut backlog = 0;
    // SAFETY: as above.
    let listening = unsafe { bindings::chpox_sk_listening(sk, &mut backlog) }.then_some(backlog);
    let (lens, bytes) = queued(sk)?;
    if listening.is_some() && !lens.is_empty() {
        // Its queue holds connections not yet accepted: their client ends
        // cannot be made again.
        return Err(crate::kernel_ext::errno::EOPNOTSUPP());
    }
    let bound = SocketName { name, listening };
    let len = SOCKET_HEAD as u64
        + bound.encoded_len()
        + lens
            .iter()
            .map(|&l| SocketState::message_len(l as usize))
            .sum::<u64>();
    out.section(SectionKind::Socket, len, |w, out| {
        w.put(
            out,
            &SocketState::encode_head(
                ino,
                peer,
                kind,
                shutdown,
                lens.len() as u32,
                name.len() as u32,
            ),
        );
        let (head, pad) = bound.frame();
        w.put(out, &head);
        w.put(out, name);
        w.put(out, pad);
        let mut at = 0usize;
        for &l in lens.iter() {
            let l = l as usize;
            let (head, pad) = SocketState::message_frame(l);
            w.put(out, &head);
            w.put(out, &bytes[at..at + l]);
            w.put(out, pad);
            at += l;
        }
    });
    Ok(())
}
