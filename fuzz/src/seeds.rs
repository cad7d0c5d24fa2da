// SPDX-License-Identifier: GPL-2.0

//! Seed inputs: dumps built with the abi crate's own encoders (every one of
//! them passes `Dump::validate()`, so mutations start deep inside the
//! parser), the dumps found in seed directories, and `/proc/chpox` lines.

use crate::abi::dump::{
    file_kind, files_head, prot, thread_flags, vma_flags, vmas_head, Clocks, FileStamp, Header,
    MmLayout, OpenFile, PagesHead, ProcessInfo, QueuedSignal, Registers, RseqArea, SectionKind,
    SectionWriter, SigAction, SignalState, SleepRestart, ThreadInfo, Vma, Zombie, ARCH_X86_64,
    HEADER_SIZE, PAGE_SIZE, RELEASE_MAX, ROBUST_LIST_HEAD_SIZE, ZSTD_FRAME_MAX, ZSTD_PAGES_MAX,
};
use crate::abi::ipc::{socket_type, PipeState, SocketName, SocketState};
use crate::abi::sink::Sink;
use std::path::{Path, PathBuf};
use std::vec::Vec;

/// One seed input.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Where it comes from (a builder's name or a file path).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Bytes appended to a `Vec`.
struct VecSink(Vec<u8>);

impl Sink for VecSink {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// Writes a dump section by section, the header last, as the module does.
pub struct Builder {
    out: VecSink,
    sections: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// An empty dump (room for the header).
    pub fn new() -> Self {
        Builder {
            out: VecSink(Vec::from([0u8; HEADER_SIZE])),
            sections: 0,
        }
    }

    /// Appends one section.
    pub fn section(&mut self, kind: SectionKind, process: u32, payload: &[u8]) -> &mut Self {
        let mut w = SectionWriter::begin(&mut self.out, kind, process, payload.len() as u64);
        w.put(&mut self.out, payload);
        assert!(w.end(&mut self.out));
        self.sections += 1;
        self
    }

    /// The dump, its header written.
    pub fn finish(mut self, processes: u32) -> Vec<u8> {
        let mut release = [0u8; RELEASE_MAX];
        release[..8].copy_from_slice(b"6.12.117");
        let header = Header {
            arch: ARCH_X86_64,
            created_sec: 1_764_000_000,
            created_nsec: 123_456_789,
            processes,
            sections: self.sections,
            release,
            file_size: self.out.0.len() as u64,
        };
        self.out.0[..HEADER_SIZE].copy_from_slice(&header.encode());
        self.out.0
    }
}

fn encoded(f: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Vec<u8> {
    let mut v = Vec::new();
    f(&mut |b| v.extend_from_slice(b));
    v
}

/// A Process payload of a process with `threads` threads.
pub fn process(pid: i32, ppid: i32, threads: u32, cwd: &[u8], exe: &[u8]) -> Vec<u8> {
    let mut comm = [0u8; 16];
    comm[..7].copy_from_slice(b"testapp");
    let info = ProcessInfo {
        pid,
        ppid,
        pgid: pid,
        sid: ppid,
        uids: [1000; 4],
        gids: [1000, 1000, 1000, 100],
        umask: 0o022,
        threads,
        comm,
    };
    let mut v = Vec::from(info.encode(cwd, exe));
    v.extend_from_slice(cwd);
    v.extend_from_slice(exe);
    assert_eq!(v.len() as u64, ProcessInfo::payload_len(cwd, exe));
    v
}

/// An Mm payload of a process whose program is mapped at `base`.
pub fn mm(base: u64) -> Vec<u8> {
    let stack = 0x7ffd_1234_0000;
    let mut m = MmLayout {
        fields: [
            base + 0x1000,
            base + 0x5123,
            base + 0x7000,
            base + 0x8400,
            base + 0x20_0000,
            base + 0x22_1000,
            stack + 0xef00,
            stack + 0xf100,
            stack + 0xf180,
            stack + 0xf180,
            stack + 0xffe0,
        ],
        ..Default::default()
    };
    // AT_PHDR, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_SYSINFO_EHDR, then AT_NULL.
    let auxv = [
        (3, base + 0x40),
        (6, PAGE_SIZE),
        (9, base + 0x1040),
        (25, stack + 0xf0f0),
        (33, 0x7ffd_1235_f000),
    ];
    for (i, (t, v)) in auxv.iter().enumerate() {
        m.auxv[2 * i] = *t;
        m.auxv[2 * i + 1] = *v;
    }
    encoded(|out| m.put(out))
}

/// General registers: in a syscall (`nanosleep`) or not.
pub fn registers(rip: u64, in_syscall: bool) -> Registers {
    let mut r = Registers::default();
    r.0[Registers::CS] = 0x33;
    r.0[Registers::SS] = 0x2b;
    r.0[Registers::RIP] = rip;
    r.0[Registers::RSP] = 0x7ffd_1234_e000;
    r.0[Registers::EFLAGS] = 0x246;
    r.0[Registers::FS_BASE] = 0x7f12_3456_7740;
    if in_syscall {
        r.0[Registers::ORIG_RAX] = SleepRestart::RESTART_SYSCALL;
        r.0[Registers::RAX] = SleepRestart::RESTART_SYSCALL;
    } else {
        r.0[Registers::ORIG_RAX] = u64::MAX;
    }
    r
}

/// An XSAVE image of `len` bytes.
pub fn fpu(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    v[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // mxcsr
    v
}

/// `n` queued signals (`siginfo` of `SI_QUEUE`, values from `first`).
fn queued_signals(n: usize, first: u32) -> Vec<QueuedSignal> {
    (0..n)
        .map(|i| {
            let mut info = [0u8; 128];
            info[0] = [10u8, 34, 35][i % 3];
            info[8] = 0xfa; // si_code SI_QUEUE
            info[16..20].copy_from_slice(&(i as u32 + first).to_le_bytes());
            QueuedSignal { info }
        })
        .collect()
}

/// A Signals payload with `queued` signals queued for the whole process.
pub fn signals(queued: usize) -> Vec<u8> {
    let mut st = SignalState {
        shared_pending: 1 << 9,
        queued: queued as u32,
        ..Default::default()
    };
    st.actions[1] = SigAction {
        handler: 1,
        ..Default::default()
    };
    for s in [9usize, 11, 14, 33] {
        st.actions[s] = SigAction {
            handler: 0x40_2000 + s as u64 * 16,
            flags: 0x0400_0000 | 0x1000_0000,
            restorer: 0x7f12_3450_0000,
            mask: 1 << s,
        };
    }
    let mut v = encoded(|out| st.encode(out));
    for q in queued_signals(queued, 7) {
        SignalState::encode_queued(&q, &mut |b| v.extend_from_slice(b));
    }
    v
}

/// What a thread of glibc has: a name, a mask, `clear_child_tid` and a
/// robust list in its thread block near `tls`, registers at `rip` (in a
/// syscall or not).
pub fn thread_info(tid: i32, tls: u64, rip: u64, in_syscall: bool) -> ThreadInfo {
    let mut comm = [0u8; 16];
    let name = format!("worker-{tid}");
    comm[..name.len().min(15)].copy_from_slice(&name.as_bytes()[..name.len().min(15)]);
    let mut regs = registers(rip, in_syscall);
    regs.0[Registers::FS_BASE] = tls;
    ThreadInfo {
        tid,
        comm,
        clear_child_tid: tls + 0x2d0,
        robust_list: tls + 0x2e0,
        robust_list_len: ROBUST_LIST_HEAD_SIZE,
        blocked: 1 << 9 | 1 << 14,
        altstack: [0x7f00_0000_0000, 65536, 0],
        regs: regs.0,
        ..Default::default()
    }
}

/// A Thread payload: `info`, `queued` signals of its own, an XSAVE image
/// of `xstate` bytes.
pub fn thread(mut info: ThreadInfo, queued: usize, xstate: usize) -> Vec<u8> {
    if queued > 0 {
        info.pending = 1 << 11;
    }
    let signals = queued_signals(queued, 100);
    let v = encoded(|out| info.encode(&signals, &fpu(xstate), out));
    assert_eq!(v.len() as u64, ThreadInfo::payload_len(queued, xstate));
    v
}

/// The memory map of a process whose program is mapped at `base`; the
/// index of its heap, its shared anonymous area and its stack.
pub fn vmas(base: u64, exe: &'static [u8]) -> (Vec<u8>, [u32; 3]) {
    let libc: &'static [u8] = b"/usr/lib/x86_64-linux-gnu/libc.so.6";
    let file = |start: u64, end: u64, offset: u64, prot: u32, path: &'static [u8]| Vma {
        start,
        end,
        offset,
        prot,
        flags: vma_flags::FILE,
        path,
        stamp: FileStamp {
            size: 1_234_567,
            mtime_ns: 1_700_000_000_123_456_789,
        },
    };
    let anon = |start: u64, end: u64, prot: u32, flags: u32| Vma {
        start,
        end,
        offset: 0,
        prot,
        flags,
        path: b"",
        stamp: FileStamp::default(),
    };
    let rw = prot::READ | prot::WRITE;
    let areas = [
        file(base, base + 0x1000, 0, prot::READ, exe),
        file(
            base + 0x1000,
            base + 0x6000,
            0x1000,
            prot::READ | prot::EXEC,
            exe,
        ),
        file(base + 0x7000, base + 0x9000, 0x6000, rw, exe),
        anon(base + 0x20_0000, base + 0x22_1000, rw, vma_flags::HEAP),
        file(0x7f12_3450_0000, 0x7f12_3452_8000, 0, prot::READ, libc),
        file(
            0x7f12_3452_8000,
            0x7f12_3455_0000,
            0x2_8000,
            prot::READ | prot::EXEC,
            libc,
        ),
        anon(0x7f12_3456_0000, 0x7f12_3456_4000, rw, vma_flags::SHARED),
        anon(0x7f12_3456_7000, 0x7f12_3456_9000, rw, 0),
        anon(
            0x7ffd_1232_0000,
            0x7ffd_1235_0000,
            rw,
            vma_flags::GROWSDOWN | vma_flags::STACK,
        ),
        anon(
            0x7ffd_1235_b000,
            0x7ffd_1235_f000,
            prot::READ,
            vma_flags::VVAR,
        ),
        anon(
            0x7ffd_1235_f000,
            0x7ffd_1236_1000,
            prot::READ | prot::EXEC,
            vma_flags::VDSO,
        ),
    ];
    let mut v = Vec::from(vmas_head(areas.len() as u32));
    for a in &areas {
        let before = v.len();
        a.encode(&mut |b| v.extend_from_slice(b));
        assert_eq!(v.len() - before, a.encoded_len());
    }
    (v, [3, 6, 8])
}

/// A Pages payload: the pages at `offsets` (in pages) of the area
/// `[start, ...)` numbered `vma`.
pub fn pages(vma: u32, start: u64, offsets: &[u64]) -> Vec<u8> {
    let head = PagesHead {
        vma,
        count: offsets.len() as u32,
    };
    let mut v = Vec::from(head.encode());
    for o in offsets {
        v.extend_from_slice(&(start + o * PAGE_SIZE).to_le_bytes());
    }
    for (i, o) in offsets.iter().enumerate() {
        let fill = (i as u8).wrapping_mul(37) ^ (*o as u8);
        let mut page = vec![fill; PAGE_SIZE as usize];
        page[..8].copy_from_slice(&(start + o * PAGE_SIZE).to_le_bytes());
        v.extend_from_slice(&page);
    }
    assert_eq!(v.len() as u64, PagesHead::payload_len(head.count));
    v
}

/// A zstd frame of `fills.len()` pages, page `i` all bytes `fills[i]`:
/// a frame header with the content size, then one RLE block a page (zstd's
/// format, RFC 8878). The abi never looks into a frame; the kernel's zstd
/// would decompress this one to exactly these pages.
pub fn zstd_rle_frame(fills: &[u8]) -> Vec<u8> {
    let size = fills.len() as u32 * PAGE_SIZE as u32;
    // Magic; descriptor: a single segment, a 4-byte content size.
    let mut v = Vec::from(0xfd2f_b528u32.to_le_bytes());
    v.push(0b1010_0000);
    v.extend_from_slice(&size.to_le_bytes());
    for (i, &fill) in fills.iter().enumerate() {
        // Block header: last block, type RLE (1), size one page.
        let last = u32::from(i + 1 == fills.len());
        let block = last | 1 << 1 | (PAGE_SIZE as u32) << 3;
        v.extend_from_slice(&block.to_le_bytes()[..3]);
        v.push(fill);
    }
    v
}

/// A ZstdPages payload: the pages at `offsets` (in pages) of the area
/// `[start, ...)` numbered `vma`, compressed into `frame`.
pub fn zstd_pages(vma: u32, start: u64, offsets: &[u64], frame: &[u8]) -> Vec<u8> {
    let head = PagesHead {
        vma,
        count: offsets.len() as u32,
    };
    assert!((1..=ZSTD_PAGES_MAX).contains(&head.count));
    assert!((1..=ZSTD_FRAME_MAX).contains(&(frame.len() as u64)));
    let mut v = Vec::from(head.encode());
    for o in offsets {
        v.extend_from_slice(&(start + o * PAGE_SIZE).to_le_bytes());
    }
    v.extend_from_slice(frame);
    assert_eq!(
        v.len() as u64,
        PagesHead::kept_len(head.count) + frame.len() as u64
    );
    v
}

/// A Files payload.
pub fn files(entries: &[OpenFile<'_>]) -> Vec<u8> {
    let mut v = Vec::from(files_head(entries.len() as u32));
    for f in entries {
        let before = v.len();
        f.encode(&mut |b| v.extend_from_slice(b));
        assert_eq!(v.len() - before, f.encoded_len());
    }
    v
}

fn open_file(fd: u32, kind: u32, flags: u32, pos: u64, id: u32, path: &[u8]) -> OpenFile<'_> {
    OpenFile {
        fd,
        kind,
        flags,
        cloexec: fd > 2 && fd % 2 == 0,
        pos,
        id,
        path,
    }
}

/// A Pipe payload.
pub fn pipe(inode: u64, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::from(PipeState::encode_head(inode, 65536, data.len() as u64));
    v.extend_from_slice(data);
    assert_eq!(v.len() as u64, PipeState::payload_len(data.len() as u64));
    v
}

/// A Socket payload.
pub fn socket(
    inode: u64,
    peer: u64,
    kind: u32,
    bound: SocketName<'_>,
    messages: &[&[u8]],
) -> Vec<u8> {
    let mut v = Vec::from(SocketState::encode_head(
        inode,
        peer,
        kind,
        0,
        messages.len() as u32,
        bound.name.len() as u32,
    ));
    let (head, pad) = bound.frame();
    v.extend_from_slice(&head);
    v.extend_from_slice(bound.name);
    v.extend_from_slice(pad);
    for m in messages {
        let (head, pad) = SocketState::message_frame(m.len());
        v.extend_from_slice(&head);
        v.extend_from_slice(m);
        v.extend_from_slice(pad);
    }
    let expected = 32
        + bound.encoded_len()
        + messages
            .iter()
            .map(|m| SocketState::message_len(m.len()))
            .sum::<u64>();
    assert_eq!(v.len() as u64, expected);
    v
}

/// A Zombies payload.
pub fn zombies(list: &[Zombie]) -> Vec<u8> {
    list.iter().flat_map(|z| z.encode()).collect()
}

/// Every section a process of the tree seed has but files and the
/// dump-wide ones. Process `index` has `index + 1` threads, the leader of
/// process 1 in a sleep; every thread has an rseq area.
fn process_sections(
    b: &mut Builder,
    index: u32,
    pid: i32,
    ppid: i32,
    exe: &'static [u8],
    queued: usize,
) {
    let base = 0x55_5555_0000_u64 + u64::from(index) * 0x100_0000;
    let threads = index + 1;
    b.section(
        SectionKind::Process,
        index,
        &process(pid, ppid, threads, b"/home/user/work dir", exe),
    );
    b.section(SectionKind::Mm, index, &mm(base));
    b.section(SectionKind::Signals, index, &signals(queued));
    let (map, [heap, shared, stack]) = vmas(base, exe);
    b.section(SectionKind::Vmas, index, &map);
    for t in 0..threads {
        // Thread ids: the leader's is the pid, the others far above.
        let tid = if t == 0 { pid } else { pid + 100 * t as i32 };
        let tls = 0x7f12_3456_7740 - 0x1_0000 * u64::from(t);
        let asleep = index == 1 && t == 0;
        let mut info = thread_info(tid, tls, base + 0x1234 + 16 * u64::from(t), asleep);
        info.flags = thread_flags::RSEQ;
        info.rseq = RseqArea {
            addr: 0x7f12_3456_7fe0 - 32 * u64::from(index) - 0x1_0000 * u64::from(t),
            len: 32,
            sig: 0x5305_3053,
        };
        if asleep {
            info.flags |= thread_flags::SLEEP;
            info.sleep = SleepRestart {
                clockid: 1,
                rmtp: 0x7ffd_1234_e100,
                remaining_ns: 2_500_000_000,
            };
        }
        let xstate = 832 + 64 * index as usize + 4 * t as usize;
        b.section(
            SectionKind::Thread,
            index,
            &thread(info, t as usize, xstate),
        );
    }
    b.section(
        SectionKind::Pages,
        index,
        &pages(heap, base + 0x20_0000, &[0, 1, 5, 0x20]),
    );
    b.section(
        SectionKind::Pages,
        index,
        &pages(shared, 0x7f12_3456_0000, &[0, 3]),
    );
    b.section(
        SectionKind::Pages,
        index,
        &pages(stack, 0x7ffd_1232_0000, &[0x2e, 0x2f]),
    );
}

/// Three processes (a parent, its child, a grandchild) sharing a pipe and
/// a socket pair, with a listener, a sleep, exited children, clocks.
pub fn tree() -> Vec<u8> {
    let mut b = Builder::new();
    let exe: &'static [u8] = b"/usr/local/bin/testprog";
    let tty = b"/dev/pts/3";
    for (index, pid, ppid) in [(0u32, 400, 1), (1, 401, 400), (2, 402, 401)] {
        process_sections(&mut b, index, pid, ppid, exe, index as usize + 1);
        let mut entries = vec![
            open_file(0, file_kind::TTY, 2, 0, 1, tty),
            open_file(1, file_kind::TTY, 2, 0, 1, tty),
            open_file(2, file_kind::TTY, 2, 0, 1, tty),
            open_file(3, file_kind::PIPE, 0, 0, 2, b"pipe:[9001]"),
            open_file(4, file_kind::PIPE, 1, 0, 3, b"pipe:[9001]"),
        ];
        match index {
            0 => {
                entries.push(open_file(5, file_kind::SOCKET, 2, 0, 4, b"socket:[9100]"));
                entries.push(open_file(7, file_kind::SOCKET, 2, 0, 6, b"socket:[9300]"));
                entries.push(open_file(
                    9,
                    file_kind::REGULAR,
                    0o2001,
                    12345,
                    7,
                    b"/home/user/work dir/out.log",
                ));
            }
            1 => {
                entries.push(open_file(6, file_kind::SOCKET, 2, 0, 5, b"socket:[9101]"));
                entries.push(open_file(8, file_kind::CHAR, 2, 0, 8, b"/dev/null"));
                entries.push(open_file(10, file_kind::DIRECTORY, 0, 0, 9, b"/tmp"));
            }
            _ => {
                entries.push(open_file(
                    9,
                    file_kind::REGULAR,
                    0o2001,
                    12345,
                    7,
                    b"/home/user/work dir/out.log",
                ));
                entries.push(open_file(11, file_kind::PIPE, 0, 0, 10, b"/tmp/fifo"));
                entries.push(open_file(
                    12,
                    file_kind::OTHER,
                    0,
                    0,
                    0,
                    b"anon_inode:[eventfd]",
                ));
            }
        }
        b.section(SectionKind::Files, index, &files(&entries));
    }
    b.section(
        SectionKind::Zombies,
        1,
        &zombies(&[
            Zombie {
                pid: 405,
                status: 3 << 8,
            },
            Zombie {
                pid: 407,
                status: 9,
            },
            Zombie {
                pid: 410,
                status: 11 | 0x80,
            },
        ]),
    );
    b.section(SectionKind::Pipe, 0, &pipe(9001, b"queued in the pipe\n"));
    let unbound = SocketName {
        name: b"",
        listening: None,
    };
    b.section(
        SectionKind::Socket,
        0,
        &socket(
            9100,
            9101,
            socket_type::STREAM,
            unbound,
            &[b"hello", b"", b"world, eight+"],
        ),
    );
    b.section(
        SectionKind::Socket,
        0,
        &socket(9101, 9100, socket_type::STREAM, unbound, &[b"back"]),
    );
    b.section(
        SectionKind::Socket,
        0,
        &socket(
            9300,
            0,
            socket_type::SEQPACKET,
            SocketName {
                name: b"\0abstract-listener",
                listening: Some(128),
            },
            &[],
        ),
    );
    let clocks = Clocks {
        monotonic_ns: 86_400_000_000_000,
        boottime_ns: 90_000_000_000_000,
    };
    b.section(SectionKind::Clocks, 0, &clocks.encode());
    b.finish(3)
}

/// One process of one thread with the required sections only, few
/// files, no pages; a thread without rseq, robust list or
/// `clear_child_tid` (not a glibc thread).
pub fn minimal() -> Vec<u8> {
    let mut b = Builder::new();
    let exe: &'static [u8] = b"/bin/sleep";
    b.section(SectionKind::Process, 0, &process(77, 1, 1, b"/", exe));
    b.section(SectionKind::Mm, 0, &mm(0x40_0000));
    let info = ThreadInfo {
        tid: 77,
        regs: registers(0x40_1234, false).0,
        ..Default::default()
    };
    b.section(SectionKind::Thread, 0, &thread(info, 0, 576));
    b.section(SectionKind::Signals, 0, &signals(0));
    b.section(SectionKind::Vmas, 0, &vmas(0x40_0000, exe).0);
    b.section(
        SectionKind::Files,
        0,
        &files(&[open_file(0, file_kind::CHAR, 0, 0, 0, b"/dev/null")]),
    );
    b.finish(1)
}

/// One process with a datagram socket pair, a long path and an odd-sized
/// queue (padding everywhere).
pub fn datagrams() -> Vec<u8> {
    let mut b = Builder::new();
    let exe: &'static [u8] = b"/opt/a/very/long/path/to/some/program-with.an.odd.length";
    b.section(
        SectionKind::Process,
        0,
        &process(3000, 2999, 1, b"/var/tmp", exe),
    );
    b.section(SectionKind::Mm, 0, &mm(0x10_0000));
    let mut info = thread_info(3000, 0x7f12_3456_7740, 0x10_1234, true);
    info.flags = thread_flags::SLEEP;
    info.sleep = SleepRestart {
        clockid: 7,
        rmtp: 0,
        remaining_ns: 1,
    };
    b.section(SectionKind::Thread, 0, &thread(info, 3, 2696));
    b.section(SectionKind::Signals, 0, &signals(5));
    let (map, [heap, ..]) = vmas(0x10_0000, exe);
    b.section(SectionKind::Vmas, 0, &map);
    b.section(SectionKind::Pages, 0, &pages(heap, 0x30_0000, &[0x10]));
    b.section(
        SectionKind::Files,
        0,
        &files(&[
            open_file(3, file_kind::SOCKET, 2, 0, 1, b"socket:[77]"),
            open_file(4, file_kind::SOCKET, 2, 0, 2, b"socket:[78]"),
            open_file(1023, file_kind::REGULAR, 0, i64::MAX as u64, 3, b"/x"),
        ]),
    );
    let bound = SocketName {
        name: b"/run/user/1000/some.sock",
        listening: None,
    };
    b.section(
        SectionKind::Socket,
        0,
        &socket(
            77,
            78,
            socket_type::DGRAM,
            bound,
            &[b"a", b"bc", b"defghij"],
        ),
    );
    let unbound = SocketName {
        name: b"",
        listening: None,
    };
    b.section(
        SectionKind::Socket,
        0,
        &socket(78, 77, socket_type::DGRAM, unbound, &[]),
    );
    b.finish(1)
}

/// One process of two threads whose pages are compressed (a registration
/// with flag 16): the heap's in two ZstdPages sections, its addresses
/// increasing across them (the module writes up to 64 pages a section),
/// the shared area's in one, and the stack's in a plain Pages section
/// after them (the format allows both kinds in one dump); the frames
/// genuine zstd ([`zstd_rle_frame`]) but for one, of arbitrary bytes,
/// which the abi takes as well.
pub fn compressed() -> Vec<u8> {
    let mut b = Builder::new();
    let exe: &'static [u8] = b"/usr/bin/counter";
    let base = 0x56_0000_0000_u64;
    b.section(
        SectionKind::Process,
        0,
        &process(5000, 4999, 2, b"/home/user", exe),
    );
    b.section(SectionKind::Mm, 0, &mm(base));
    b.section(SectionKind::Signals, 0, &signals(1));
    let (map, [heap, shared, stack]) = vmas(base, exe);
    b.section(SectionKind::Vmas, 0, &map);
    for (t, tid) in [5000, 5001].into_iter().enumerate() {
        let tls = 0x7f12_3456_7740 - 0x1_0000 * t as u64;
        let info = thread_info(tid, tls, base + 0x1300 + 16 * t as u64, false);
        b.section(SectionKind::Thread, 0, &thread(info, t, 832 + 64 * t));
    }
    // The heap (33 pages): 24 pages, then 3 more.
    let heap_start = base + 0x20_0000;
    let first: Vec<u64> = (0..24).collect();
    let fills: Vec<u8> = (0..24).map(|i| i as u8 ^ 0x5a).collect();
    b.section(
        SectionKind::ZstdPages,
        0,
        &zstd_pages(heap, heap_start, &first, &zstd_rle_frame(&fills)),
    );
    b.section(
        SectionKind::ZstdPages,
        0,
        &zstd_pages(
            heap,
            heap_start,
            &[24, 25, 0x20],
            &zstd_rle_frame(&[0, 7, 0xff]),
        ),
    );
    b.section(
        SectionKind::ZstdPages,
        0,
        &zstd_pages(
            shared,
            0x7f12_3456_0000,
            &[1, 3],
            b"\x28\xb5\x2f\xfd not a frame",
        ),
    );
    b.section(
        SectionKind::Pages,
        0,
        &pages(stack, 0x7ffd_1232_0000, &[0x2f]),
    );
    b.section(
        SectionKind::Files,
        0,
        &files(&[
            open_file(0, file_kind::CHAR, 0, 0, 0, b"/dev/null"),
            open_file(
                1,
                file_kind::REGULAR,
                0o2001,
                4096,
                1,
                b"/home/user/counter.out",
            ),
        ]),
    );
    b.finish(1)
}

/// The built-in seed dumps.
pub fn builtin() -> Vec<Seed> {
    [
        ("builtin:tree", tree()),
        ("builtin:minimal", minimal()),
        ("builtin:datagrams", datagrams()),
        ("builtin:compressed", compressed()),
    ]
    .into_iter()
    .map(|(name, bytes)| Seed {
        name: name.into(),
        bytes,
    })
    .collect()
}

/// Seed files larger than this are skipped: each case copies and checks
/// its seed several times over.
pub const FILE_MAX: u64 = 16 << 20;

/// The regular files of `dir` (README files aside), sorted by name; a
/// missing directory gives none.
pub fn from_dir(dir: &Path) -> Vec<Seed> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("README") || n.starts_with('.'))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| {
            let size = std::fs::metadata(p).map_or(0, |m| m.len());
            if size > FILE_MAX {
                eprintln!("chpox-fuzz: {} skipped, {size} bytes", p.display());
                return false;
            }
            true
        })
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            Some(Seed {
                name: p.display().to_string(),
                bytes,
            })
        })
        .collect()
}

/// `/proc/chpox` lines: commands as written, listings as read, signal
/// names as `chpoxctl` takes them.
pub const LINES: &[&[u8]] = &[
    b"add 42 12 9 /tmp/a.dump\n",
    b"add 1 10 1 /x",
    b"  add\t42  12 0x9   /tmp/with space\n",
    b"add 4194304 64 0x1 /var/lib/chpox/dumps/a.dump",
    b"del 7\n",
    b"del 2147483647",
    b"clear",
    b"clear\n",
    b"restore 3 4 1\n",
    b"restore 3 4",
    b"restore 3 4 1 2\n",
    b"restore 3 4 0 4095",
    b"pid=12 signal=10 flags=9 uid=1000 state=idle checkpoints=0 last=never file=/tmp/x y=z\n",
    b"pid=1 signal=2 flags=1 uid=0 state=checkpointing checkpoints=3 last=ok last_time=1700000000 last_size=4096 last_usec=1500 file=/f",
    b"pid=5 signal=34 flags=9 uid=0 state=idle checkpoints=1 last=failed last_time=5 last_errno=28 last_step=write file=/d/e",
    b"SIGRTMIN+3",
    b"RTMAX-1",
    b"usr2",
    b"SIGUSR1",
    b"12",
    b"sigsys",
    b"IOT",
];

#[cfg(test)]
mod tests {
    /// The built-in seeds hold what the real ones lack (pipes, sockets
    /// bound, listening and with messages, exited children): decoding and
    /// encoding them again gives the very same bytes.
    #[test]
    fn builtin_seeds_are_encoded_again_byte_for_byte() {
        for seed in super::builtin() {
            let again = crate::abi::dump::round_trip::reencode(&seed.bytes);
            assert!(again == seed.bytes, "{} changed", seed.name);
        }
    }
}
