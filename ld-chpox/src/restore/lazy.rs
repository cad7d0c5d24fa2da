// SPDX-License-Identifier: GPL-2.0

//! Lazy restore (`ld-chpox --lazy`): the tree runs again as soon as its
//! memory is mapped, and ld-chpox fills the private anonymous memory
//! afterwards, on demand and in the background, through userfaultfd.
//!
//! Each process opens a userfaultfd for its own memory before its `restore`
//! write and hands it to ld-chpox over its link, a socket pair ([`Links`]).
//! The module maps the memory, leaves the pages of private anonymous areas
//! out, writes `m` on the link and waits. ld-chpox's [`PageServer`]
//! registers those areas and answers `r`; only then does any thread of the
//! process go on, so no page is touched unregistered. From then on the
//! server maps each page a thread waits for, and meanwhile reads the dump's
//! pages sections in file order, verifies each one's checksum and copies
//! its pages that are still missing. It follows what the program does to
//! its memory meanwhile: pages it drops or unmaps are not filled any more,
//! moved ones are filled where they went, and a forked child's memory is
//! filled as its parent's. Once every section is read the server closes
//! the userfaultfds: what is still missing then is memory the dump had no
//! page of, which reads as zeros as it always did.
//!
//! A page a thread waits for is given before its section is verified: a
//! dump whose checksum fails kills its process, but it may have run on
//! that page already (an eager restore kills it before it runs).

use super::uffd::{Copied, Event, Userfault};
use super::{dup_high, sys, Error};
use chpox_abi::checksum::Checksum;
use chpox_abi::dump::{vma_flags, Dump, PagesHead, SectionKind, PAGE_SIZE, SECTION_HEAD};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, signal, SigHandler, Signal};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::unistd::Pid;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;

/// What a process sends with its userfaultfd.
const USERFAULT: u8 = b'u';
/// What the module sends once the memory is mapped (`rust/restore/lazy.rs`).
const MAPPED: u8 = b'm';
/// What the server answers once the memory is registered.
const REGISTERED: u8 = b'r';

/// The signals that end ld-chpox by default, which a lazy restore ignores
/// until the memory is filled (SIGINT and SIGQUIT it always ignores).
const TERMINATION: [Signal; 2] = [Signal::SIGTERM, Signal::SIGHUP];

/// Makes ld-chpox ignore [`TERMINATION`] until the page server is done.
pub(crate) fn hold_off_termination() {
    for sig in TERMINATION {
        // SAFETY: ignoring a signal installs no handler.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
}

/// Pages read and copied at a time by the background fill.
const FILL_PAGES: u64 = 64;

/// One link a process of the tree: `[server end, member end]`.
pub(crate) struct Links(Vec<[RefCell<Option<OwnedFd>>; 2]>);

impl Links {
    /// Links for `n` processes, above every dumped descriptor.
    pub(crate) fn new(n: usize, base: RawFd) -> Result<Self, Error> {
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            let (a, b) = sys(
                socketpair(
                    AddressFamily::Unix,
                    SockType::SeqPacket,
                    None,
                    SockFlag::SOCK_CLOEXEC,
                ),
                "socketpair",
            )?;
            links.push([
                RefCell::new(Some(dup_high(a.as_fd(), base)?)),
                RefCell::new(Some(dup_high(b.as_fd(), base)?)),
            ]);
        }
        Ok(Links(links))
    }

    /// The end process `index` keeps and passes to the module.
    pub(crate) fn member_fd(&self, index: usize) -> RawFd {
        self.0[index][1]
            .borrow()
            .as_ref()
            .map_or(-1, |fd| fd.as_raw_fd())
    }

    /// In ld-chpox once the tree is forked: the processes hold their ends.
    pub(crate) fn close_member_ends(&self) {
        self.0.iter().for_each(|[_, member]| drop(member.take()));
    }

    fn take_server_ends(&self) -> Vec<Option<OwnedFd>> {
        self.0.iter().map(|[server, _]| server.take()).collect()
    }
}

/// In process `index`: opens the userfaultfd of its memory and hands it to
/// the server.
pub(crate) fn hand_over_userfault(links: &Links, index: usize) -> Result<(), Error> {
    let uffd = Userfault::open()?;
    let fds = [uffd.as_owned().as_raw_fd()];
    sys(
        sendmsg::<()>(
            links.member_fd(index),
            &[IoSlice::new(&[USERFAULT])],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ),
        "sendmsg (userfaultfd)",
    )?;
    Ok(())
}

/// Checks, with the rights the restored processes will have and before
/// anything is started, that they can open the userfaultfd they need. Only
/// processes with CAP_SYS_PTRACE can (a root's dump restored by root): a
/// userfaultfd that serves faults taken in the kernel and follows forks is
/// a right over the kernel that users are not given (see
/// `vm.unprivileged_userfaultfd`), and the owner of a process can take
/// its descriptors while ld-chpox builds it.
pub(crate) fn check_available() -> Result<(), Error> {
    Userfault::open().map(drop).map_err(|e| {
        format!(
            "--lazy: {e}: a lazy restore needs CAP_SYS_PTRACE in the restored \
             processes (a dump of root's, restored by root); restore without --lazy"
        )
        .into()
    })
}

/// Pages still to fill: `start..end` in the process's memory as it is now,
/// whose pages are in the dump file from offset `file` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: u64,
    end: u64,
    file: u64,
}

/// The pages still to fill of one address space: runs that overlap
/// neither in memory nor in the file, looked up by either.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Pending {
    /// Start → (end, file offset).
    by_addr: BTreeMap<u64, (u64, u64)>,
    /// File offset → start.
    by_file: BTreeMap<u64, u64>,
}

impl Pending {
    fn insert(&mut self, r: Run) {
        if r.start < r.end {
            self.by_addr.insert(r.start, (r.end, r.file));
            self.by_file.insert(r.file, r.start);
        }
    }

    fn remove(&mut self, start: u64) -> Option<Run> {
        let (end, file) = self.by_addr.remove(&start)?;
        self.by_file.remove(&file);
        Some(Run { start, end, file })
    }

    fn get(&self, start: u64) -> Option<Run> {
        let &(end, file) = self.by_addr.get(&start)?;
        Some(Run { start, end, file })
    }

    /// The run holding the page at `addr`.
    fn find(&self, addr: u64) -> Option<Run> {
        let (&start, _) = self.by_addr.range(..=addr).next_back()?;
        self.get(start).filter(|r| addr < r.end)
    }

    /// Takes `start..end` out (filled, dropped or unmapped); returns what
    /// was taken.
    fn take(&mut self, start: u64, end: u64) -> Vec<Run> {
        let starts: Vec<u64> = self
            .by_addr
            .range(..end)
            .rev()
            .take_while(|(_, &(e, _))| e > start)
            .map(|(&s, _)| s)
            .collect();
        let mut taken = Vec::with_capacity(starts.len());
        let overlapping: Vec<Run> = starts.into_iter().filter_map(|s| self.remove(s)).collect();
        for r in overlapping {
            let (s, e) = (r.start.max(start), r.end.min(end));
            taken.push(Run {
                start: s,
                end: e,
                file: r.file + (s - r.start),
            });
            self.insert(Run { end: s, ..r });
            self.insert(Run {
                start: e,
                end: r.end,
                file: r.file + (e - r.start),
            });
        }
        taken.reverse();
        taken
    }

    /// Follows `len` bytes moved from `from` to `to`.
    fn remap(&mut self, from: u64, to: u64, len: u64) {
        let Some(end) = from.checked_add(len) else {
            return;
        };
        for r in self.take(from, end) {
            self.insert(Run {
                start: r.start - from + to,
                end: r.end - from + to,
                file: r.file,
            });
        }
    }

    /// The parts of runs whose pages are in the file at `lo..hi`, as
    /// `(address, offset in lo..hi, length)`.
    fn in_file(&self, lo: u64, hi: u64) -> Vec<(u64, u64, u64)> {
        let mut parts: Vec<(u64, u64, u64)> = self
            .by_file
            .range(..hi)
            .rev()
            .filter_map(|(_, &start)| self.get(start))
            .take_while(|r| r.file + (r.end - r.start) > lo)
            .map(|r| {
                let (s, e) = (r.file.max(lo), (r.file + (r.end - r.start)).min(hi));
                (r.start + (s - r.file), s - lo, e - s)
            })
            .collect();
        parts.reverse();
        parts
    }
}

/// The pending pages of process `p`: all those of its `sections`, which
/// the module left out.
fn pending_of(sections: &[Section<'_>], p: u32) -> Pending {
    let mut pending = Pending::default();
    let mut run: Option<Run> = None;
    for section in sections.iter().filter(|s| s.process == p) {
        let mut file = PagesHead::pages_offset(section.at, section.count);
        for a in section.addrs.chunks_exact(8) {
            let addr = u64::from_le_bytes(a.try_into().unwrap_or_default());
            run = match run {
                Some(r) if r.end == addr && r.file + (r.end - r.start) == file => Some(Run {
                    end: addr + PAGE_SIZE,
                    ..r
                }),
                other => {
                    other.into_iter().for_each(|r| pending.insert(r));
                    Some(Run {
                        start: addr,
                        end: addr + PAGE_SIZE,
                        file,
                    })
                }
            };
            file += PAGE_SIZE;
        }
    }
    run.into_iter().for_each(|r| pending.insert(r));
    pending
}

/// The private anonymous areas of process `p`, which the module left empty.
fn lazy_areas(dump: &Dump<'_>, p: u32) -> Result<Vec<(u64, u64)>, Error> {
    let vmas = dump.only(p, SectionKind::Vmas)?;
    Ok(chpox_abi::dump::decode_vmas(vmas.payload)?
        .filter(|v| vma_flags::private_anonymous(v.flags))
        .map(|v| (v.start, v.end))
        .collect())
}

/// A process on its way: its link, and its userfaultfd once sent.
struct Link {
    process: u32,
    socket: OwnedFd,
    uffd: Option<Userfault>,
}

/// One address space being filled: a restored process's, or a child's
/// it forked meanwhile.
struct Space {
    process: u32,
    uffd: Userfault,
    pending: Pending,
}

/// A pages section whose pages the server fills (a plain one of a private
/// anonymous area): its process, where it is, its number of pages, its
/// head and addresses as ld-chpox read them, and the addresses alone.
#[derive(Clone, Copy)]
struct Section<'a> {
    process: u32,
    at: u64,
    count: u32,
    kept: &'a [u8],
    addrs: &'a [u8],
}

/// The page server of a lazy restore (see the module's documentation).
pub(crate) struct PageServer<'a> {
    file: &'a File,
    dump: &'a Dump<'a>,
    pids: Vec<Pid>,
    links: Vec<Link>,
    spaces: Vec<Space>,
    sections: Vec<Section<'a>>,
}

impl<'a> PageServer<'a> {
    /// The server of the links' server ends, for the dump `file` whose
    /// processes are now `pids`.
    pub(crate) fn new(
        file: &'a File,
        dump: &'a Dump<'a>,
        links: &Links,
        pids: Vec<Pid>,
    ) -> Result<Self, Error> {
        let mut sections = Vec::new();
        for p in 0..dump.header.processes {
            for pages in dump.pages_of(p)? {
                let pages = pages?;
                if pages.section.kind == SectionKind::Pages
                    && vma_flags::private_anonymous(pages.area.flags)
                {
                    sections.push(Section {
                        process: p,
                        at: pages.section.at,
                        count: pages.count,
                        kept: pages.section.payload,
                        addrs: pages.addrs,
                    });
                }
            }
        }
        let links = links
            .take_server_ends()
            .into_iter()
            .enumerate()
            .filter_map(|(p, socket)| {
                Some(Link {
                    process: p as u32,
                    socket: socket?,
                    uffd: None,
                })
            })
            .collect();
        Ok(PageServer {
            file,
            dump,
            pids,
            links,
            spaces: Vec::new(),
            sections,
        })
    }

    /// Serves until every section is read and verified (or its process
    /// gone), then lets the memory go and lets ld-chpox be ended again.
    /// Reports failures on stderr: each kills the process it concerns, as a
    /// failed eager restore does.
    pub(crate) fn run(self) {
        self.serve();
        for sig in TERMINATION {
            // SAFETY: the default action installs no handler.
            let _ = unsafe { signal(sig, SigHandler::SigDfl) };
        }
    }

    fn serve(mut self) {
        let mut next = 0usize;
        loop {
            // The fill starts once every process has registered its memory
            // (or failed): a section read before would miss it.
            let filling = self.links.is_empty() && next < self.sections.len();
            if self.links.is_empty() && !filling {
                break;
            }
            if let Err(e) = self.wait_and_serve(filling) {
                eprintln!("ld-chpox: page server: {e}");
                self.kill_all();
                return;
            }
            if filling {
                if let Err(e) = self.fill_section(next) {
                    self.fail(self.sections[next].process, e);
                }
                next += 1;
            }
        }
    }

    /// Waits for a link or a userfaultfd to have something (not at all if
    /// `busy`), and serves what they have.
    fn wait_and_serve(&mut self, busy: bool) -> Result<(), Error> {
        let ready = {
            let fds = self
                .links
                .iter()
                .map(|l| l.socket.as_fd())
                .chain(self.spaces.iter().map(|s| s.uffd.as_owned().as_fd()));
            let mut polled: Vec<PollFd<'_>> =
                fds.map(|fd| PollFd::new(fd, PollFlags::POLLIN)).collect();
            let timeout = if busy {
                PollTimeout::ZERO
            } else {
                PollTimeout::NONE
            };
            match poll(&mut polled, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::sys("poll", e)),
            }
            polled
                .iter()
                .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
                .collect::<Vec<bool>>()
        };
        let (links, spaces) = ready.split_at(self.links.len());
        for i in (0..self.links.len()).rev().filter(|&i| links[i]) {
            self.serve_link(i);
        }
        for i in (0..spaces.len()).rev().filter(|&i| spaces[i]) {
            self.serve_space(i);
        }
        Ok(())
    }

    /// Takes what link `i` says: the userfaultfd, then that the memory is
    /// mapped. A link that closes or fails is dropped: its process failed
    /// to restore, or is killed (the module fails without an answer).
    fn serve_link(&mut self, i: usize) {
        let mut byte = [0u8];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let link = &mut self.links[i];
        let received = {
            let mut iov = [IoSliceMut::new(&mut byte)];
            recvmsg::<()>(
                link.socket.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
            )
            .map(|msg| {
                let mut fds = Vec::new();
                for c in msg.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmRights(f) = c {
                        fds.extend(f);
                    }
                }
                (msg.bytes, fds)
            })
        };
        let done = match received {
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => return,
            Ok((1, fds)) if byte[0] == USERFAULT && fds.len() == 1 && link.uffd.is_none() => {
                // SAFETY: the kernel installed it in this process for this
                // message alone.
                let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
                link.uffd = Some(Userfault::from_owned(fd));
                return;
            }
            Ok((1, fds)) if byte[0] == MAPPED && fds.is_empty() => self.register(i),
            // The process ended (it says why itself) or was killed.
            Ok((0, fds)) if fds.is_empty() => Ok(()),
            Ok((_, fds)) => {
                for fd in fds {
                    let _ = nix::unistd::close(fd);
                }
                Err("unexpected message on its link".into())
            }
            Err(e) => Err(Error::sys("recvmsg", e)),
        };
        let link = self.links.swap_remove(i);
        if let Err(e) = done {
            eprintln!(
                "ld-chpox: pid {}: lazy restore: {e}",
                self.pids[link.process as usize]
            );
        }
    }

    /// Registers the private anonymous memory of link `i`'s process, and
    /// tells the module (which then lets the process go on).
    fn register(&mut self, i: usize) -> Result<(), Error> {
        let link = &mut self.links[i];
        let process = link.process;
        let uffd = link
            .uffd
            .take()
            .ok_or("memory mapped before any userfaultfd")?;
        for (start, end) in lazy_areas(self.dump, process)? {
            uffd.register(start, end)
                .map_err(|e| Error::sys(format!("registering {start:#x}-{end:#x}"), e))?;
        }
        let pending = pending_of(&self.sections, process);
        sys(
            nix::sys::socket::send(
                link.socket.as_raw_fd(),
                &[REGISTERED],
                MsgFlags::MSG_NOSIGNAL,
            ),
            "send",
        )?;
        self.spaces.push(Space {
            process,
            uffd,
            pending,
        });
        Ok(())
    }

    /// Serves the events of space `i` until it has none: each change of
    /// the memory is followed, then each missing page a thread waits for is
    /// read from the dump (a zero page where the dump has none).
    fn serve_space(&mut self, i: usize) {
        let mut waiting = Vec::new();
        loop {
            // Giving a process up takes its spaces out.
            let Some(space) = self.spaces.get(i) else {
                return;
            };
            let event = match space.uffd.next_event() {
                Ok(Some(event)) => event,
                Ok(None) if waiting.is_empty() => return,
                Ok(None) => {
                    waiting = match self.serve_faults(i, waiting) {
                        Some(again) if !again.is_empty() => again,
                        _ => return,
                    };
                    // The memory is changing: its event is read, but the
                    // thread changing it has not gone on yet.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                // Its memory is gone (the process exited or ran exec).
                Err(Errno::ESRCH) => {
                    self.spaces.swap_remove(i);
                    return;
                }
                // Its faults can no longer be served: closing the
                // userfaultfd would give it zero pages.
                Err(e) => {
                    self.fail(space.process, format!("reading its userfaultfd: {e}"));
                    return;
                }
            };
            let space = &mut self.spaces[i];
            match event {
                Event::PageFault(addr) => waiting.push(addr & !(PAGE_SIZE - 1)),
                Event::Fork(uffd) => {
                    let child = Space {
                        process: space.process,
                        uffd,
                        pending: space.pending.clone(),
                    };
                    self.spaces.push(child);
                }
                Event::Remap { from, to, len } => space.pending.remap(from, to, len),
                Event::Gone { start, end } => drop(space.pending.take(start, end)),
            }
        }
    }

    /// Serves the faults on `pages` of space `i`; returns those to try
    /// again, or `None` if the space's process was given up.
    fn serve_faults(&mut self, i: usize, pages: Vec<u64>) -> Option<Vec<u64>> {
        let mut again = Vec::new();
        for page in pages {
            let space = &mut self.spaces[i];
            match serve_fault(self.file, space, page) {
                Ok(true) => {}
                Ok(false) => again.push(page),
                Err(e) => {
                    let process = space.process;
                    self.fail(process, format!("page {page:#x}: {e}"));
                    return None;
                }
            }
        }
        Some(again)
    }

    /// Reads section `i` whole, copies its pages still missing in every
    /// space of its process, and verifies its checksum.
    fn fill_section(&mut self, i: usize) -> Result<(), Error> {
        let Section {
            process,
            at,
            count,
            kept,
            ..
        } = self.sections[i];
        if !self.spaces.iter().any(|s| s.process == process) {
            return Ok(()); // the process is gone
        }
        let io = |e: std::io::Error| format!("reading the dump: {e}");
        // The checksum covers the framing, the head and addresses (as
        // ld-chpox read them before), then the pages.
        let mut checksum = Checksum::new();
        let mut frame = [0u8; SECTION_HEAD];
        self.file.read_exact_at(&mut frame, at).map_err(io)?;
        checksum.update(&frame);
        checksum.update(kept);
        let first = PagesHead::pages_offset(at, count);
        let end = first + u64::from(count) * PAGE_SIZE;
        let mut buf = vec![0u8; (FILL_PAGES * PAGE_SIZE) as usize];
        let mut lo = first;
        while lo < end {
            let hi = (lo + FILL_PAGES * PAGE_SIZE).min(end);
            let chunk = &mut buf[..(hi - lo) as usize];
            self.file.read_exact_at(chunk, lo).map_err(io)?;
            checksum.update(chunk);
            let mut s = 0;
            while s < self.spaces.len() {
                self.copy_chunk(s, process, lo, &buf[..(hi - lo) as usize])?;
                s += 1;
            }
            lo = hi;
            // Threads waiting for a page come before the fill.
            self.wait_and_serve(true)?;
        }
        let mut tail = [0u8; 4];
        self.file.read_exact_at(&mut tail, end).map_err(io)?;
        if checksum.finish() != u32::from_le_bytes(tail) {
            return Err(format!(
                "the pages section at offset {at} of the dump does not match its checksum"
            )
            .into());
        }
        Ok(())
    }

    /// Copies what space `s`, if one of `process`, still misses of the
    /// file's bytes from `lo` on, which `bytes` holds.
    fn copy_chunk(&mut self, s: usize, process: u32, lo: u64, bytes: &[u8]) -> Result<(), Error> {
        let hi = lo + bytes.len() as u64;
        loop {
            let Some(space) = self.spaces.get_mut(s).filter(|x| x.process == process) else {
                return Ok(());
            };
            let mut outcome = Ok(());
            for (addr, offset, len) in space.pending.in_file(lo, hi) {
                let data = &bytes[offset as usize..(offset + len) as usize];
                outcome = copy_pages(space, addr, data);
                if outcome.is_err() {
                    break;
                }
            }
            match outcome {
                Ok(()) => return Ok(()),
                // The process exited or ran exec: nothing to fill. The space
                // put in its place is looked at next.
                Err(Errno::ESRCH) => drop(self.spaces.swap_remove(s)),
                // The memory is changing: follow the change, then copy what
                // is still missing (what was copied is no longer pending).
                Err(Errno::EAGAIN) => {
                    self.serve_space(s);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => return Err(Error::sys("filling memory (UFFDIO_COPY)", e)),
            }
        }
    }

    /// Says why process `process` cannot be filled, and gives it up.
    fn fail(&mut self, process: u32, why: impl std::fmt::Display) {
        eprintln!(
            "ld-chpox: pid {}: {why}: the process is killed",
            self.pids[process as usize]
        );
        self.give_up(process);
    }

    /// Kills process `process` (its memory cannot be filled) and stops
    /// serving it.
    fn give_up(&mut self, process: u32) {
        let _ = kill(self.pids[process as usize], Signal::SIGKILL);
        self.spaces.retain(|s| s.process != process);
    }

    fn kill_all(&mut self) {
        for p in 0..self.pids.len() {
            self.give_up(p as u32);
        }
    }
}

/// Copies `pages` to `addr` in `space` where still missing, and takes what
/// is done out of its pending pages. Memory gone meanwhile is not an error;
/// `EAGAIN` is the memory changing meanwhile.
fn copy_pages(space: &mut Space, addr: u64, pages: &[u8]) -> nix::Result<()> {
    let mut done = 0u64;
    let len = pages.len() as u64;
    let result = loop {
        if done >= len {
            break Ok(());
        }
        match space.uffd.copy(addr + done, &pages[done as usize..]) {
            Ok(Copied::All) => done = len,
            Ok(Copied::Part(n)) => done += n,
            Ok(Copied::FirstThere) => done += PAGE_SIZE,
            // Unmapped meanwhile (its event is on the way).
            Err(Errno::ENOENT) | Err(Errno::EINVAL) => done = len,
            Err(e) => break Err(e),
        }
    };
    space.pending.take(addr, addr + done);
    result
}

/// Serves the fault on `page`: its contents from the dump, or a zero page
/// if the dump has none (a page never written, or dropped since). False if
/// the memory is changing: to be tried again once that is followed.
fn serve_fault(file: &File, space: &mut Space, page: u64) -> Result<bool, Error> {
    let served = match space.pending.find(page) {
        None => space.uffd.zero(page, PAGE_SIZE),
        Some(run) => {
            let mut buf = vec![0u8; PAGE_SIZE as usize];
            file.read_exact_at(&mut buf, run.file + (page - run.start))
                .map_err(|e| format!("reading the dump: {e}"))?;
            copy_pages(space, page, &buf).and_then(|()| space.uffd.wake(page, PAGE_SIZE))
        }
    };
    match served {
        Ok(()) | Err(Errno::ENOENT) | Err(Errno::ESRCH) => Ok(true),
        Err(Errno::EAGAIN) => Ok(false),
        Err(e) => Err(Error::sys("serving a page", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = PAGE_SIZE;

    fn run(start: u64, pages: u64, file: u64) -> Run {
        Run {
            start: start * P,
            end: (start + pages) * P,
            file: file * P,
        }
    }

    fn pending(runs: &[Run]) -> Pending {
        let mut p = Pending::default();
        runs.iter().for_each(|&r| p.insert(r));
        p
    }

    fn runs(p: &Pending) -> Vec<Run> {
        p.by_addr.keys().filter_map(|&s| p.get(s)).collect()
    }

    #[test]
    fn taking_splits_runs_and_keeps_file_offsets() {
        let mut p = pending(&[run(10, 10, 100), run(30, 2, 50)]);
        assert_eq!(p.take(12 * P, 14 * P), vec![run(12, 2, 102)]);
        assert_eq!(
            runs(&p),
            vec![run(10, 2, 100), run(14, 6, 104), run(30, 2, 50)]
        );
        assert_eq!(p.find(15 * P), Some(run(14, 6, 104)));
        assert_eq!(p.find(13 * P), None);
        assert_eq!(p.find(32 * P), None);
        assert!(p.take(0, 5 * P).is_empty());
        assert_eq!(
            p.take(11 * P, 31 * P),
            vec![run(11, 1, 101), run(14, 6, 104), run(30, 1, 50)]
        );
        assert_eq!(runs(&p), vec![run(10, 1, 100), run(31, 1, 51)]);
        assert_eq!(p.by_file.len(), 2);
    }

    #[test]
    fn a_remap_moves_what_is_pending_with_it() {
        let mut p = pending(&[run(10, 10, 100)]);
        p.remap(15 * P, 100 * P, 10 * P);
        assert_eq!(runs(&p), vec![run(10, 5, 100), run(100, 5, 105)]);
        assert_eq!(
            p.in_file(104 * P, 106 * P),
            vec![(14 * P, 0, P), (100 * P, P, P)]
        );
        assert!(p.in_file(0, 100 * P).is_empty());
        assert_eq!(p.in_file(109 * P, 200 * P), vec![(104 * P, 0, P)]);
    }
}
