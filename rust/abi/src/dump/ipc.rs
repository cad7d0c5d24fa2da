// SPDX-License-Identifier: GPL-2.0

//! Pipes and unix sockets in a dump. Each is one dump-wide section (of
//! process 0), keyed by its inode number; the descriptors that refer to it
//! carry the kernel's name `pipe:[N]` or `socket:[N]` as their path.

use super::memory::ListHead;
use super::{pad8, padding, DumpError, Reader};

/// Largest pipe capacity a dump may ask for (the kernel's hard limit for
/// `F_SETPIPE_SZ` is far lower in practice).
pub const PIPE_CAPACITY_MAX: u32 = 1 << 28;
/// Size of the fixed part of a [`super::SectionKind::Pipe`] payload.
pub const PIPE_HEAD: usize = PipeState::SIZE;
/// Size of the fixed part of a [`super::SectionKind::Socket`] payload.
pub const SOCKET_HEAD: usize = SocketHead::SIZE;
/// Most messages a socket section may hold.
const MESSAGES_MAX: u32 = 1 << 20;

/// The inode number in a pipe's or socket's name: `pipe:[N]` or
/// `socket:[N]`.
pub fn object_inode(path: &[u8]) -> Option<u64> {
    let rest = path
        .strip_prefix(b"pipe:[")
        .or_else(|| path.strip_prefix(b"socket:["))?;
    let digits = rest.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(digits).ok()?.parse().ok()
}

record! {
    /// A pipe: its capacity and the bytes in its buffer, oldest first.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PipeState<'a> ["pipe", lens PipeLens] {
        /// Inode number of the pipe.
        inode: u64,
        /// Capacity in bytes (`F_GETPIPE_SZ`).
        capacity: u32,
        pad 4,
        /// Number of unread bytes, which follow the record.
        let len: u64,
        /// Unread bytes.
        tail data: &'a [u8],
    }
}

impl<'a> PipeState<'a> {
    /// Payload length for `data_len` unread bytes.
    pub fn payload_len(data_len: u64) -> u64 {
        data_len.saturating_add(PIPE_HEAD as u64)
    }

    /// The fixed part; the unread bytes follow it.
    pub fn encode_head(inode: u64, capacity: u32, data_len: u64) -> [u8; PIPE_HEAD] {
        let pipe = PipeState {
            inode,
            capacity,
            data: &[],
        };
        pipe.encode_with(&PipeLens { len: data_len })
    }

    /// Reads and checks a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DumpError> {
        let mut r = Reader::new(payload);
        let (mut pipe, PipeLens { len }) = PipeState::read_with(&mut r)?;
        pipe.data = r.rest();
        if len != pipe.data.len() as u64 {
            return Err(DumpError::Invalid("pipe data length mismatch"));
        }
        if !(4096..=PIPE_CAPACITY_MAX).contains(&pipe.capacity) || len > pipe.capacity as u64 {
            return Err(DumpError::Invalid("impossible pipe capacity"));
        }
        Ok(pipe)
    }
}

/// Unix socket types, as `SOCK_*`.
pub mod socket_type {
    /// `SOCK_STREAM`.
    pub const STREAM: u32 = 1;
    /// `SOCK_DGRAM`.
    pub const DGRAM: u32 = 2;
    /// `SOCK_SEQPACKET`.
    pub const SEQPACKET: u32 = 5;
}

/// A connected unix socket and what waits in its receive queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketState<'a> {
    /// Inode number of the socket.
    pub inode: u64,
    /// Inode number of its peer, 0 if it has none.
    pub peer: u64,
    /// [`socket_type`].
    pub kind: u32,
    /// Shut down for receiving (bit 0) and sending (bit 1).
    pub shutdown: u32,
    /// Number of queued messages (for a stream, pieces of the byte stream).
    pub count: u32,
    /// The address it is bound to (`sun_path` bytes, a leading NUL for the
    /// abstract namespace), empty if none.
    pub name: &'a [u8],
    /// `listen()` backlog, if it is a listening socket.
    pub listening: Option<u32>,
    messages: &'a [u8],
}

record! {
    /// The fixed part of a [`super::SectionKind::Socket`] payload; its
    /// [`SocketBinding`] and name, then its messages follow.
    pub struct SocketHead ["socket"] {
        /// Inode number of the socket.
        inode: u64,
        /// Inode number of its peer, 0 if it has none.
        peer: u64,
        /// [`socket_type`]: `SOCK_STREAM` 1, `SOCK_DGRAM` 2,
        /// `SOCK_SEQPACKET` 5.
        kind: u32,
        /// Shut down for receiving (bit 0) and sending (bit 1).
        shutdown: u32,
        /// Number of queued messages.
        count: u32,
        /// Length of the bound name.
        name_len: u32,
    }
}

record! {
    /// How a socket listens; its name, padded to 8 bytes, follows.
    pub struct SocketBinding ["socket binding"] {
        /// The `listen()` backlog (0 if not listening).
        backlog: u32,
        /// 1 for a listening socket, else 0.
        listening: u32,
    }
}

/// Longest `sun_path`.
pub const SUN_PATH_MAX: usize = 108;

/// How a socket is bound: its name and, for a listening socket, the
/// backlog. Written after the [`SocketState::encode_head`] part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketName<'a> {
    /// See [`SocketState::name`].
    pub name: &'a [u8],
    /// See [`SocketState::listening`].
    pub listening: Option<u32>,
}

impl SocketName<'_> {
    /// Bytes it takes in the payload.
    pub const fn encoded_len(&self) -> u64 {
        8 + pad8(self.name.len()) as u64
    }

    /// The 8 bytes before the name, and the padding after it.
    pub fn frame(&self) -> ([u8; 8], &'static [u8]) {
        let binding = SocketBinding {
            backlog: self.listening.unwrap_or(0),
            listening: u32::from(self.listening.is_some()),
        };
        (binding.encode(), padding(self.name.len()))
    }
}

impl<'a> SocketState<'a> {
    /// Bytes one queued message of `len` bytes takes.
    pub const fn message_len(len: usize) -> u64 {
        8 + pad8(len) as u64
    }

    /// The fixed part; the [`SocketName`] frame and name, then each
    /// message ([`SocketState::message_frame`]) follow it.
    pub fn encode_head(
        inode: u64,
        peer: u64,
        kind: u32,
        shutdown: u32,
        count: u32,
        name_len: u32,
    ) -> [u8; SOCKET_HEAD] {
        SocketHead {
            inode,
            peer,
            kind,
            shutdown,
            count,
            name_len,
        }
        .encode()
    }

    /// The framing of a message of `len` bytes: the head that goes before
    /// it and the padding that goes after it.
    pub fn message_frame(len: usize) -> ([u8; 8], &'static [u8]) {
        let count = len as u32;
        (ListHead { count }.encode(), padding(len))
    }

    /// Reads and checks a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DumpError> {
        let mut r = Reader::new(payload);
        let SocketHead {
            inode,
            peer,
            kind,
            shutdown,
            count,
            name_len,
        } = SocketHead::read(&mut r)?;
        let SocketBinding { backlog, listening } = SocketBinding::read(&mut r)?;
        if name_len as usize > SUN_PATH_MAX || listening > 1 {
            return Err(DumpError::Invalid("impossible socket name"));
        }
        let name = r.padded(name_len as usize, "socket name")?;
        let s = SocketState {
            inode,
            peer,
            kind,
            shutdown,
            count,
            name,
            listening: (listening == 1).then_some(backlog),
            messages: r.rest(),
        };
        if ![
            socket_type::STREAM,
            socket_type::DGRAM,
            socket_type::SEQPACKET,
        ]
        .contains(&s.kind)
            || s.shutdown > 3
            || s.count > MESSAGES_MAX
            || s.peer == s.inode
        {
            return Err(DumpError::Invalid("impossible socket state"));
        }
        // A listening socket is bound, has no peer and no messages (pending
        // connections are not dumped), and is not a datagram socket.
        if s.listening.is_some()
            && (s.name.is_empty() || s.peer != 0 || s.count != 0 || s.kind == socket_type::DGRAM)
        {
            return Err(DumpError::Invalid("impossible listening socket"));
        }
        let mut check = Reader::new(s.messages);
        for _ in 0..s.count {
            Self::next_message(&mut check)?;
        }
        if !check.rest().is_empty() {
            return Err(DumpError::Invalid(
                "socket messages do not match their count",
            ));
        }
        Ok(s)
    }

    fn next_message(r: &mut Reader<'a>) -> Result<&'a [u8], DumpError> {
        let len = ListHead::read(r)?.count as usize;
        r.padded(len, "message")
    }

    /// The queued messages, oldest first.
    pub fn messages(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut r = Reader::new(self.messages);
        let count = self.count;
        (0..count).map_while(move |_| Self::next_message(&mut r).ok())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn names_give_inodes() {
        assert_eq!(object_inode(b"pipe:[1234]"), Some(1234));
        assert_eq!(object_inode(b"socket:[7]"), Some(7));
        for bad in [
            &b"pipe:[]"[..],
            b"pipe:[12",
            b"pipe:[1x]",
            b"/tmp/pipe:[1]",
            b"socket:[99999999999999999999999]",
        ] {
            assert_eq!(object_inode(bad), None);
        }
    }

    #[test]
    fn pipe_round_trip_and_checks() {
        let mut p = Vec::from(PipeState::encode_head(9, 65536, 3));
        p.extend_from_slice(b"abc");
        let s = PipeState::decode(&p).unwrap();
        assert_eq!((s.inode, s.capacity, s.data), (9, 65536, &b"abc"[..]));
        assert!(PipeState::decode(&p[..p.len() - 1]).is_err());
        let mut small = Vec::from(PipeState::encode_head(9, 16, 3));
        small.extend_from_slice(b"abc");
        assert!(PipeState::decode(&small).is_err());
    }

    fn socket(messages: &[&[u8]], kind: u32) -> Vec<u8> {
        let mut p = Vec::from(SocketState::encode_head(
            5,
            6,
            kind,
            0,
            messages.len() as u32,
            0,
        ));
        p.extend_from_slice(&[0; 8]);
        for m in messages {
            let (head, pad) = SocketState::message_frame(m.len());
            p.extend_from_slice(&head);
            p.extend_from_slice(m);
            p.extend_from_slice(pad);
        }
        p
    }

    #[test]
    fn socket_round_trip_and_checks() {
        let msgs: [&[u8]; 3] = [b"one", b"", b"eight by"];
        let p = socket(&msgs, socket_type::DGRAM);
        let expected: u64 = msgs.iter().map(|m| SocketState::message_len(m.len())).sum();
        assert_eq!(p.len() as u64, SOCKET_HEAD as u64 + 8 + expected);
        let s = SocketState::decode(&p).unwrap();
        assert_eq!(s.messages().collect::<Vec<_>>(), msgs);
        assert!(SocketState::decode(&p[..p.len() - 8]).is_err());
        assert!(SocketState::decode(&socket(&msgs, 3)).is_err());
        let mut extra = p.clone();
        extra.extend_from_slice(&[0; 8]);
        assert!(SocketState::decode(&extra).is_err());
    }

    #[test]
    fn message_lengths_are_checked() {
        for len in [u32::MAX, u32::MAX - 6, 9] {
            let mut p = socket(&[b"12345678"], socket_type::STREAM);
            let at = SOCKET_HEAD + 8;
            p[at..at + 4].copy_from_slice(&len.to_le_bytes());
            assert!(SocketState::decode(&p).is_err(), "{len}");
        }
        assert_eq!(PipeState::payload_len(u64::MAX), u64::MAX);
    }

    fn listener(name: &[u8], peer: u64, kind: u32) -> Vec<u8> {
        let bound = SocketName {
            name,
            listening: Some(16),
        };
        let mut p = Vec::from(SocketState::encode_head(
            5,
            peer,
            kind,
            0,
            0,
            name.len() as u32,
        ));
        let (head, pad) = bound.frame();
        p.extend_from_slice(&head);
        p.extend_from_slice(name);
        p.extend_from_slice(pad);
        assert_eq!(p.len() as u64, SOCKET_HEAD as u64 + bound.encoded_len());
        p
    }

    #[test]
    fn listeners_round_trip_and_checks() {
        let p = listener(b"/tmp/x.sock", 0, socket_type::STREAM);
        let s = SocketState::decode(&p).unwrap();
        assert_eq!((s.name, s.listening), (&b"/tmp/x.sock"[..], Some(16)));
        assert!(SocketState::decode(&listener(b"", 0, socket_type::STREAM)).is_err());
        assert!(SocketState::decode(&listener(b"/a", 9, socket_type::STREAM)).is_err());
        assert!(SocketState::decode(&listener(b"/a", 0, socket_type::DGRAM)).is_err());
        assert!(SocketState::decode(&listener(&[b'a'; 109], 0, socket_type::STREAM)).is_err());
    }
}
