// SPDX-License-Identifier: GPL-2.0

//! Every open file of the dump, opened once by ld-chpox before the first
//! fork, at descriptors above any the processes use. Each process then
//! duplicates what it had into place, so descriptors that were shared
//! (inherited across fork) share one open file again: one offset, one
//! pipe, one socket.
//!
//! Pipes and unix socket pairs are made anew and refilled with the bytes
//! and messages they held; listening unix sockets listen on their name
//! again ([`super::listener`]). An end whose other end was outside the dump
//! leads to ld-chpox's own standard stream if it was on one (a shell
//! pipeline feeding the tree); otherwise it is restored with no peer, as if
//! that peer had closed it (reads see the data, then end of file; writes
//! get EPIPE), and ld-chpox says so on its standard error.

use super::listener::{connect_named, connect_through, kind_of, listen_again, shown};
use super::Error;
use super::{dup_high, sys};
use chpox_abi::dump::{decode_files, file_kind, Dump, OpenFile, SectionKind};
use chpox_abi::ipc::{object_inode, socket_type, PipeState, SocketState};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use nix::sys::stat::Mode;
use nix::unistd::{isatty, lseek, pipe2, write, Whence};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Which open file a descriptor entry refers to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Key {
    /// The dump's id of the open file.
    Id(u32),
    /// No id (older dumps): process and descriptor.
    Fd(u32, u32),
}

pub(crate) fn key(process: u32, f: &OpenFile<'_>) -> Key {
    if f.id != 0 {
        Key::Id(f.id)
    } else {
        Key::Fd(process, f.fd)
    }
}

/// Where a descriptor comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Source {
    /// A descriptor of the table.
    Table(RawFd),
    /// ld-chpox's own standard stream `n` (a saved copy of it).
    Own(usize),
}

pub(crate) struct Table {
    files: HashMap<Key, Source>,
    /// Copies of ld-chpox's standard streams (-1 if closed), in `opened`.
    own: [RawFd; 3],
    /// Every descriptor the table opened; the numbers elsewhere in the
    /// table are theirs.
    opened: Vec<OwnedFd>,
}

/// One pipe or socket end as the processes refer to it.
struct End {
    key: Key,
    fd: u32,
    flags: u32,
}

fn is_std(fd: u32) -> bool {
    fd <= 2
}

impl Table {
    /// Opens everything the processes of `dump` refer to.
    pub(crate) fn open(dump: &Dump<'_>, base: RawFd) -> Result<Self, Error> {
        let mut table = Table {
            files: HashMap::new(),
            own: [-1; 3],
            opened: Vec::new(),
        };
        let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        let streams = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
        for (n, stream) in streams.into_iter().enumerate() {
            if fcntl(stream.as_raw_fd(), FcntlArg::F_GETFD).is_ok() {
                let copy = dup_high(stream, base)?;
                table.own[n] = copy.as_raw_fd();
                table.opened.push(copy);
            }
        }
        let mut pipes: HashMap<u64, Vec<End>> = HashMap::new();
        let mut sockets: HashMap<u64, Vec<End>> = HashMap::new();
        for p in 0..dump.header.processes {
            let files = dump
                .only(p, SectionKind::Files)
                .and_then(|s| decode_files(s.payload))?;
            for f in files {
                let k = key(p, &f);
                if table.files.contains_key(&k) {
                    continue;
                }
                let end = End {
                    key: k,
                    fd: f.fd,
                    flags: f.flags,
                };
                let what = || format!("fd {} ({})", f.fd, String::from_utf8_lossy(f.path));
                match (f.kind, object_inode(f.path)) {
                    (file_kind::PIPE, Some(ino)) => {
                        pipes.entry(ino).or_default().push(end);
                        continue;
                    }
                    (file_kind::SOCKET, Some(ino)) => {
                        sockets.entry(ino).or_default().push(end);
                        continue;
                    }
                    _ => {}
                }
                let source = match f.kind {
                    file_kind::TTY if is_std(f.fd) => table.own_stream(f.fd as usize, &what())?,
                    file_kind::TTY => {
                        if isatty(std::io::stdin().as_raw_fd()) != Ok(true) {
                            return Err(
                                format!("{} was a terminal, ld-chpox has none", what()).into()
                            );
                        }
                        table.own_stream(0, &what())?
                    }
                    file_kind::REGULAR | file_kind::DIRECTORY | file_kind::CHAR => {
                        Source::Table(table.reopen(&f, base)?)
                    }
                    _ if is_std(f.fd) => table.own_stream(f.fd as usize, &what())?,
                    file_kind::PIPE => {
                        return Err(format!("{} is a named pipe, not restorable yet", what()).into())
                    }
                    _ => {
                        return Err(format!(
                            "{} is a {} that cannot be restored yet",
                            what(),
                            if f.kind == file_kind::SOCKET {
                                "socket (not a unix socket)"
                            } else {
                                "special file"
                            }
                        )
                        .into())
                    }
                };
                table.files.insert(k, source);
            }
        }
        table.make_pipes(dump, pipes, base)?;
        table.make_sockets(dump, sockets, base)?;
        Ok(table)
    }

    pub(crate) fn source(&self, key: Key) -> Option<Source> {
        self.files.get(&key).copied()
    }

    /// The descriptor a source stands for in this process.
    pub(crate) fn fd_of(&self, source: Source) -> RawFd {
        match source {
            Source::Table(fd) => fd,
            Source::Own(n) => self.own[n],
        }
    }

    /// Closes every descriptor of the table (in ld-chpox once the root is
    /// forked).
    pub(crate) fn close_all(&mut self) {
        self.opened.clear();
    }

    fn own_stream(&self, n: usize, what: &str) -> Result<Source, Error> {
        if self.own[n] < 0 {
            return Err(format!("{what} was a standard stream, ld-chpox has none there").into());
        }
        Ok(Source::Own(n))
    }

    /// Moves `fd` above the dumped descriptors and into the table (the low
    /// descriptor is closed); returns its new number.
    fn keep(&mut self, fd: OwnedFd, base: RawFd) -> Result<RawFd, Error> {
        let high = dup_high(fd.as_fd(), base)?;
        let number = high.as_raw_fd();
        self.opened.push(high);
        Ok(number)
    }

    /// A regular file, directory or device, opened again by path at its
    /// offset.
    fn reopen(&mut self, f: &OpenFile<'_>, base: RawFd) -> Result<RawFd, Error> {
        let path = String::from_utf8_lossy(f.path);
        let c = CString::new(f.path).map_err(|_| format!("fd {}: bad path", f.fd))?;
        let flags = OFlag::from_bits_retain(f.flags as i32)
            - (OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_TRUNC);
        let fd = sys(
            nix::fcntl::open(c.as_c_str(), flags | OFlag::O_CLOEXEC, Mode::empty()),
            &format!("cannot reopen fd {} ({path})", f.fd),
        )?;
        // SAFETY: open() just made this descriptor; nothing else owns it.
        let fd = self.keep(unsafe { OwnedFd::from_raw_fd(fd) }, base)?;
        if f.kind == file_kind::REGULAR && lseek(fd, f.pos as i64, Whence::SeekSet).is_err() {
            return Err(format!("fd {} ({path}): cannot seek to {}", f.fd, f.pos).into());
        }
        Ok(fd)
    }

    /// Makes `fd` (a pipe or socket end of the table) the open file of
    /// `end`, with its `O_NONBLOCK`.
    fn assign(&mut self, end: &End, fd: RawFd) -> Result<(), Error> {
        let nonblock = OFlag::from_bits_retain(end.flags as i32) & OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(nonblock));
        self.files.insert(end.key, Source::Table(fd));
        Ok(())
    }

    fn make_pipes(
        &mut self,
        dump: &Dump<'_>,
        pipes: HashMap<u64, Vec<End>>,
        base: RawFd,
    ) -> Result<(), Error> {
        for (ino, ends) in pipes {
            let state = dump
                .sections()
                .filter(|s| s.kind == SectionKind::Pipe)
                .filter_map(|s| PipeState::decode(s.payload).ok())
                .find(|s| s.inode == ino)
                .ok_or_else(|| format!("pipe:[{ino}] has no pipe section"))?;
            let reads = |e: &&End| {
                OFlag::from_bits_retain(e.flags as i32) & OFlag::O_ACCMODE == OFlag::O_RDONLY
            };
            let has_reader = ends.iter().any(|e| reads(&e));
            let has_writer = ends.iter().any(|e| !reads(&e));
            if !(has_reader && has_writer) && ends.iter().all(|e| is_std(e.fd)) {
                // A pipeline outside the dump: ld-chpox's own stream.
                for e in &ends {
                    let source = self.own_stream(e.fd as usize, &format!("fd {} (pipe)", e.fd))?;
                    self.files.insert(e.key, source);
                }
                if !state.data.is_empty() && has_reader {
                    eprintln!(
                        "ld-chpox: note: the {} unread bytes of pipe:[{ino}] stay with the \
                         pipe that fed the checkpointed tree",
                        state.data.len()
                    );
                }
                continue;
            }
            if !(has_reader && has_writer) {
                eprintln!(
                    "ld-chpox: note: pipe:[{ino}] led to a process outside the dump; its {} end \
                     is restored with nothing at the other end",
                    if has_reader { "read" } else { "write" }
                );
            }
            let (r, w) = sys(pipe2(OFlag::O_CLOEXEC), "pipe")?;
            let [r, w] = [self.keep(r, base)?, self.keep(w, base)?];
            if state.capacity > 65536 {
                sys(
                    fcntl(w, FcntlArg::F_SETPIPE_SZ(state.capacity as i32)),
                    &format!("pipe:[{ino}]: set its size"),
                )?;
            }
            write_all(w, state.data).map_err(|e| format!("pipe:[{ino}]: refill: {e}"))?;
            for e in &ends {
                self.assign(e, if reads(&e) { r } else { w })?;
            }
        }
        Ok(())
    }

    fn make_sockets(
        &mut self,
        dump: &Dump<'_>,
        sockets: HashMap<u64, Vec<End>>,
        base: RawFd,
    ) -> Result<(), Error> {
        let state_of = |ino: u64| {
            dump.sections()
                .filter(|s| s.kind == SectionKind::Socket)
                .filter_map(|s| SocketState::decode(s.payload).ok())
                .find(|s| s.inode == ino)
        };
        // Listeners first: connections accepted from them are made through
        // them.
        let mut listeners: HashMap<&[u8], RawFd> = HashMap::new();
        let mut made: HashMap<u64, RawFd> = HashMap::new();
        for (&ino, ends) in &sockets {
            let Some(state) = state_of(ino).filter(|s| s.listening.is_some()) else {
                continue;
            };
            let fd = listen_again(&state).map_err(|e| format!("socket:[{ino}]: {e}"))?;
            let fd = self.keep(fd, base)?;
            listeners.insert(state.name, fd);
            made.insert(ino, fd);
            for e in ends {
                self.assign(e, fd)?;
            }
        }
        for (&ino, ends) in &sockets {
            let std_only = ends.iter().all(|e| is_std(e.fd));
            let Some(state) = state_of(ino) else {
                if !std_only {
                    return Err(format!(
                        "fd {} is a socket chpox cannot restore yet (not a unix socket)",
                        ends[0].fd
                    )
                    .into());
                }
                for e in ends {
                    let source = self.own_stream(e.fd as usize, "socket")?;
                    self.files.insert(e.key, source);
                }
                continue;
            };
            if state.listening.is_some() {
                continue; // made above
            }
            let peer = (state.peer != 0)
                .then(|| state_of(state.peer))
                .flatten()
                .filter(|p| p.peer == ino && sockets.contains_key(&state.peer));
            if peer.is_none() && std_only {
                for e in ends {
                    let source = self.own_stream(e.fd as usize, "socket")?;
                    self.files.insert(e.key, source);
                }
                continue;
            }
            if !made.contains_key(&ino) {
                let [mine, other] = match &peer {
                    Some(p) => self.connection(&state, p, &listeners, base)?,
                    None => self.pair(kind_of(&state), base)?,
                };
                refill(other, &state).map_err(|e| format!("socket:[{ino}]: refill: {e}"))?;
                made.insert(ino, mine);
                match peer {
                    Some(p) => {
                        refill(mine, &p)
                            .map_err(|e| format!("socket:[{}]: refill: {e}", p.inode))?;
                        made.insert(p.inode, other);
                        shut(other, p.shutdown);
                    }
                    None => {
                        eprintln!(
                            "ld-chpox: note: socket:[{ino}] was connected to a process outside \
                             the dump; it is restored with nothing at the other end"
                        );
                        // Closing the other end leaves the restored end
                        // without a peer.
                        self.opened.retain(|fd| fd.as_raw_fd() != other);
                    }
                }
                shut(mine, state.shutdown);
            }
            for e in ends {
                self.assign(e, made[&ino])?;
            }
        }
        Ok(())
    }
}

impl Table {
    /// Two connected unix sockets of type `kind`, kept in the table.
    fn pair(&mut self, kind: SockType, base: RawFd) -> Result<[RawFd; 2], Error> {
        let (a, b) = sys(
            socket::socketpair(AddressFamily::Unix, kind, None, SockFlag::SOCK_CLOEXEC),
            "socketpair",
        )?;
        Ok([self.keep(a, base)?, self.keep(b, base)?])
    }

    /// The sockets for the connection `state`–`peer` (in that order): a
    /// connection accepted from a named listener is made through a
    /// listener of that name, so both ends see the names they saw;
    /// anything else is a plain pair.
    fn connection(
        &mut self,
        state: &SocketState<'_>,
        peer: &SocketState<'_>,
        listeners: &HashMap<&[u8], RawFd>,
        base: RawFd,
    ) -> Result<[RawFd; 2], Error> {
        let kind = kind_of(state);
        // The accepted end has the listener's name; the connecting end
        // mostly none.
        let accepted_first = match (state.name.is_empty(), peer.name.is_empty()) {
            _ if kind == SockType::Datagram => None,
            (false, true) => Some(true),
            (true, false) => Some(false),
            (false, false) if listeners.contains_key(state.name) => Some(true),
            (false, false) if listeners.contains_key(peer.name) => Some(false),
            _ => None,
        };
        let Some(accepted_first) = accepted_first else {
            if !state.name.is_empty() || !peer.name.is_empty() {
                eprintln!(
                    "ld-chpox: note: the connection socket:[{}]-socket:[{}] is restored without \
                     its names",
                    state.inode, peer.inode
                );
            }
            return self.pair(kind, base);
        };
        let name = if accepted_first {
            state.name
        } else {
            peer.name
        };
        let made = match listeners.get(name) {
            Some(&listener) => connect_through(listener, name, kind).map(Some),
            None => connect_named(name, kind),
        };
        let Some((client, accepted)) =
            made.map_err(|e| format!("socket:[{}]: {e}", state.inode))?
        else {
            eprintln!(
                "ld-chpox: note: {} is taken; the connection accepted there (socket:[{}]) is \
                 restored without its name",
                shown(name),
                if accepted_first {
                    state.inode
                } else {
                    peer.inode
                }
            );
            return self.pair(kind, base);
        };
        let [client, accepted] = [self.keep(client, base)?, self.keep(accepted, base)?];
        Ok(if accepted_first {
            [accepted, client]
        } else {
            [client, accepted]
        })
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) -> Result<(), std::io::Error> {
    // SAFETY: `fd` is a descriptor of the table, open while it is used here.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    while !data.is_empty() {
        let n = write(fd, data)?;
        data = &data[n..];
    }
    Ok(())
}

/// Sends, from `fd`, the messages its peer's queue held.
fn refill(fd: RawFd, state: &SocketState<'_>) -> Result<(), std::io::Error> {
    for m in state.messages() {
        if state.kind == socket_type::STREAM {
            write_all(fd, m)?;
            continue;
        }
        if socket::send(fd, m, MsgFlags::MSG_DONTWAIT)? != m.len() {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Shuts down what the dumped socket had shut down itself (sending).
fn shut(fd: RawFd, shutdown: u32) {
    if shutdown & 2 != 0 {
        let _ = socket::shutdown(fd, socket::Shutdown::Write);
    }
}
