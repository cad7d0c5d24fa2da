// SPDX-License-Identifier: GPL-2.0

//! A unix socket: its type, its peer, its shutdown state, the name it is
//! bound to, whether it listens, and the messages waiting in its receive
//! queue, read without consuming them. Other sockets get no section
//! (ld-chpox reports them as not restorable).

use crate::abi::dump::SectionKind;
use crate::abi::ipc::{SocketName, SocketState, SOCKET_HEAD, SUN_PATH_MAX};
use crate::kernel_ext::file::File;
use crate::kernel_ext::socket::{SkBuff, Sock, Socket};
use crate::writer::DumpFile;
use kernel::prelude::*;

/// Attempts at reading a queue that others keep changing.
const ATTEMPTS: usize = 4;

/// Calls `f` on each buffer of the locked receive queue of `sk` with its
/// unread part: (skb, offset, len).
fn for_each_queued(sk: &Sock, mut f: impl FnMut(&SkBuff, u32, u32) -> Result) -> Result {
    let queue = sk.lock_receive_queue();
    for skb in queue.iter() {
        if skb.unix_has_fds() {
            // Descriptors in flight (SCM_RIGHTS) are not dumped yet.
            return Err(crate::kernel_ext::errno::EOPNOTSUPP());
        }
        let (len, consumed) = (skb.len(), skb.unix_consumed());
        f(skb, consumed, len.saturating_sub(consumed))?;
    }
    Ok(())
}

/// The queued messages: their lengths and their bytes end to end.
fn queued(sk: &Sock) -> Result<(KVVec<u32>, KVVec<u8>)> {
    for _ in 0..ATTEMPTS {
        let (mut count, mut total) = (0usize, 0usize);
        for_each_queued(sk, |_, _, len| {
            count += 1;
            total += len as usize;
            Ok(())
        })?;
        // Allocated outside the spinlock, filled under it.
        let mut lens = KVVec::with_capacity(count, GFP_KERNEL)?;
        let mut bytes = KVVec::from_elem(0u8, total, GFP_KERNEL)?;
        let mut at = 0usize;
        let same = for_each_queued(sk, |skb, offset, len| {
            let end = at + len as usize;
            if end > bytes.len() || lens.len() == count {
                return Err(EAGAIN); // grew meanwhile
            }
            skb.copy_bits(offset, &mut bytes[at..end])?;
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

pub(super) fn write(out: &mut DumpFile, file: &File, ino: u64) -> Result {
    let Some(socket) = Socket::of_file(file) else {
        return Ok(());
    };
    let kind = socket.kind();
    let Some(sk) = socket.sock().filter(|sk| sk.is_unix()) else {
        return Ok(());
    };
    // 0 when unconnected, or when the peer has no socket any more.
    let peer = sk
        .unix_peer()
        .map_or(0, |peer| peer.socket().map_or(0, Socket::ino));
    let shutdown = sk.shutdown();
    let mut name = [0u8; SUN_PATH_MAX];
    let name_len = sk.unix_name(&mut name)?;
    let name = &name[..name_len];
    let listening = sk.listening_backlog();
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
