// SPDX-License-Identifier: GPL-2.0

//! Unit tests of the format as a whole and of its records.

extern crate std;
use super::*;
use std::vec::Vec;

use super::super::sink::VecSink as V;

/// A Thread payload: thread `tid` with `queued` signals of its own; all
/// but the leader (tid 42) have an rseq area and were in a sleep.
pub(crate) fn thread(tid: i32, queued: usize) -> Vec<u8> {
    let mut regs = [0u64; Registers::COUNT];
    regs[Registers::CS] = 0x33;
    regs[Registers::SS] = 0x2b;
    regs[Registers::RIP] = 0x40_1000 + tid as u64;
    let mut comm = [0u8; 16];
    comm[..6].copy_from_slice(b"worker");
    let mut info = ThreadInfo {
        tid,
        comm,
        blocked: 1 << 9,
        clear_child_tid: 0x7f00_0000_0990,
        regs,
        ..Default::default()
    };
    if tid != 42 {
        info.flags = thread_flags::RSEQ | thread_flags::SLEEP;
        info.robust_list = 0x7f00_0000_09a0;
        info.robust_list_len = ROBUST_LIST_HEAD_SIZE;
        info.pending = 1 << 11;
        info.altstack = [0x7f00_0001_0000, 65536, 0];
        info.rseq = RseqArea {
            addr: 0x7f00_0000_0a00,
            len: 32,
            sig: 0x5305_3053,
        };
        info.sleep = SleepRestart {
            clockid: 1,
            rmtp: 0,
            remaining_ns: 1_000_000,
        };
    }
    let signals = std::vec![QueuedSignal { info: [12; 128] }; queued];
    let xstate: Vec<u8> = (0..XSTATE_MIN + 5 + 64 * queued).map(|i| i as u8).collect();
    let mut v = Vec::new();
    info.encode(&signals, &xstate, &mut |x| v.extend_from_slice(x));
    assert_eq!(
        v.len() as u64,
        ThreadInfo::payload_len(queued, xstate.len())
    );
    v
}

pub(crate) fn sample() -> Vec<u8> {
    let mut out = V(Vec::from([0u8; HEADER_SIZE]));
    let info = ProcessInfo {
        pid: 42,
        ppid: 1,
        pgid: 42,
        sid: 42,
        threads: 2,
        umask: 0o22,
        ..Default::default()
    };
    let (cwd, exe) = (&b"/tmp"[..], &b"/bin/app"[..]);
    let mut w = SectionWriter::begin(
        &mut out,
        SectionKind::Process,
        0,
        ProcessInfo::payload_len(cwd, exe),
    );
    w.put(&mut out, &info.encode(cwd, exe));
    w.put(&mut out, cwd);
    w.put(&mut out, exe);
    assert!(w.end(&mut out));
    // Two threads: the leader, and one with a signal of its own, an rseq
    // area and a sleep, its XSAVE image of a length to pad.
    for (tid, queued) in [(42, 0), (43, 1)] {
        let payload = thread(tid, queued);
        let mut w = SectionWriter::begin(&mut out, SectionKind::Thread, 0, payload.len() as u64);
        w.put(&mut out, &payload);
        assert!(w.end(&mut out));
    }
    let vmas = [
        Vma {
            start: 0x40_0000,
            end: 0x40_2000,
            offset: 0,
            prot: prot::READ | prot::EXEC,
            flags: vma_flags::FILE,
            path: b"/bin/app",
            stamp: FileStamp::default(),
        },
        Vma {
            start: 0x60_0000,
            end: 0x60_4000,
            offset: 0,
            prot: prot::READ | prot::WRITE,
            flags: vma_flags::HEAP,
            path: b"",
            stamp: FileStamp::default(),
        },
    ];
    let len = 8 + vmas.iter().map(|v| v.encoded_len() as u64).sum::<u64>();
    let mut w = SectionWriter::begin(&mut out, SectionKind::Vmas, 0, len);
    w.put(&mut out, &vmas_head(2));
    let mut buf = Vec::new();
    for v in &vmas {
        v.encode(&mut |b| buf.extend_from_slice(b));
    }
    w.put(&mut out, &buf);
    assert!(w.end(&mut out));
    let mut w = SectionWriter::begin(&mut out, SectionKind::Pages, 0, PagesHead::payload_len(1));
    w.put(&mut out, &PagesHead { vma: 1, count: 1 }.encode());
    w.put(&mut out, &0x60_1000u64.to_le_bytes());
    w.put(&mut out, &[0xab; PAGE_SIZE as usize]);
    assert!(w.end(&mut out));
    let mut release = [0u8; RELEASE_MAX];
    release[..8].copy_from_slice(b"6.12.117");
    let header = Header {
        arch: ARCH_X86_64,
        created_sec: 1_700_000_000,
        created_nsec: 5,
        processes: 1,
        sections: 5,
        release,
        file_size: out.0.len() as u64,
    };
    out.0[..HEADER_SIZE].copy_from_slice(&header.encode());
    out.0
}

#[test]
fn round_trip() {
    let bytes = sample();
    let dump = Dump::parse(&bytes).unwrap();
    assert_eq!(dump.header.release(), b"6.12.117");
    assert_eq!(dump.sections().count(), 5);
    let (info, cwd, exe) =
        ProcessInfo::decode(dump.only(0, SectionKind::Process).unwrap().payload).unwrap();
    assert_eq!((info.pid, cwd, exe), (42, &b"/tmp"[..], &b"/bin/app"[..]));
    let threads: Vec<_> = dump.threads(0).map(Result::unwrap).collect();
    assert_eq!(threads.len(), 2);
    let (leader, other) = (&threads[0], &threads[1]);
    assert_eq!((leader.info.tid, other.info.tid), (42, 43));
    assert_eq!(leader.registers().0[Registers::RIP], 0x40_1000 + 42);
    assert_eq!(&leader.info.comm[..6], b"worker");
    assert_eq!((leader.rseq(), leader.sleep()), (None, None));
    assert_eq!(leader.queued().count(), 0);
    assert_eq!(leader.xstate.len(), XSTATE_MIN + 5);
    assert_eq!(other.rseq().map(|a| a.addr), Some(0x7f00_0000_0a00));
    assert_eq!(other.sleep().map(|s| s.remaining_ns), Some(1_000_000));
    assert_eq!(
        other.queued().collect::<Vec<_>>(),
        [QueuedSignal { info: [12; 128] }]
    );
    assert_eq!(other.xstate.len(), XSTATE_MIN + 5 + 64);
    assert_eq!(dump.thread(0, 1).unwrap().info, other.info);
    assert_eq!(
        dump.thread(0, 2).unwrap_err(),
        DumpError::Invalid("a thread is missing")
    );
    assert!(dump.thread(1, 0).is_err(), "no process 1");
    let vmas: Vec<_> = decode_vmas(dump.only(0, SectionKind::Vmas).unwrap().payload)
        .unwrap()
        .collect();
    assert_eq!(vmas.len(), 2);
    assert_eq!(vmas[0].path, b"/bin/app");
    let pages = dump.only(0, SectionKind::Pages).unwrap();
    let (head, addrs, data) = PagesHead::decode(pages.payload, &vmas[1]).unwrap();
    assert_eq!(
        (head.count, addrs.len(), data.len()),
        (1, 8, PAGE_SIZE as usize)
    );
    assert_eq!(
        dump.only(0, SectionKind::Signals).unwrap_err(),
        DumpError::Invalid("a required section is missing")
    );
}

/// A dump of just these sections.
fn build(processes: u32, sections: &[(SectionKind, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = V(Vec::from([0u8; HEADER_SIZE]));
    for (kind, p, payload) in sections {
        let mut w = SectionWriter::begin(&mut out, *kind, *p, payload.len() as u64);
        w.put(&mut out, payload);
        assert!(w.end(&mut out));
    }
    let header = Header {
        arch: ARCH_X86_64,
        created_sec: 1,
        created_nsec: 0,
        processes,
        sections: sections.len() as u32,
        release: [0; RELEASE_MAX],
        file_size: out.0.len() as u64,
    };
    out.0[..HEADER_SIZE].copy_from_slice(&header.encode());
    out.0
}

fn process(pid: i32, ppid: i32) -> Vec<u8> {
    let info = ProcessInfo {
        pid,
        ppid,
        pgid: pid,
        sid: pid,
        threads: 1,
        ..Default::default()
    };
    let mut v = Vec::from(info.encode(b"/", b""));
    v.extend_from_slice(b"/");
    v
}

#[test]
fn trees_are_checked() {
    let tree = |procs: &[(i32, i32)]| {
        let sections: Vec<_> = procs
            .iter()
            .enumerate()
            .map(|(i, &(pid, ppid))| (SectionKind::Process, i as u32, process(pid, ppid)))
            .collect();
        let bytes = build(procs.len() as u32, &sections);
        Dump::parse(&bytes).unwrap().validate_tree()
    };
    assert_eq!(tree(&[(10, 1), (11, 10), (12, 11), (13, 10)]), Ok(()));
    assert!(
        tree(&[(10, 1), (11, 10), (11, 10)]).is_err(),
        "same pid twice"
    );
    assert!(tree(&[(10, 1), (12, 11), (11, 10)]).is_err(), "child first");
    assert!(tree(&[(10, 1), (11, 99)]).is_err(), "parent outside");
}

#[test]
fn threads_are_checked() {
    // Process 42 with `threads` threads and these Thread sections.
    let check = |threads: u32, tids: &[i32]| {
        let info = ProcessInfo {
            pid: 42,
            ppid: 1,
            threads,
            ..Default::default()
        };
        let mut sections = Vec::from([(SectionKind::Process, 0, process(42, 1))]);
        for &tid in tids {
            sections.push((SectionKind::Thread, 0, thread(tid, 0)));
        }
        let bytes = build(1, &sections);
        Dump::parse(&bytes).unwrap().validate_threads(0, &info)
    };
    assert_eq!(check(1, &[42]), Ok(()));
    assert_eq!(check(3, &[42, 43, 44]), Ok(()));
    let invalid = |what| Err(DumpError::Invalid(what));
    let count = "the number of threads does not match the process";
    assert_eq!(check(1, &[]), invalid(count));
    assert_eq!(check(2, &[42]), invalid(count));
    assert_eq!(check(1, &[42, 43]), invalid(count));
    let leader = "the first thread is not the leader";
    assert_eq!(check(2, &[43, 42]), invalid(leader));
    assert_eq!(check(2, &[42, 42]), invalid(leader));
    assert_eq!(
        check(3, &[42, 43, 43]),
        invalid("two threads with the same id")
    );
    assert_eq!(check(THREADS_MAX + 1, &[42]), invalid("too many threads"));
    // A thread section that does not decode fails the dump.
    let mut bad = thread(43, 0);
    bad[ThreadInfo::SIZE - 8..ThreadInfo::SIZE - 4].copy_from_slice(&1u32.to_le_bytes());
    let info = ProcessInfo {
        pid: 42,
        threads: 2,
        ..Default::default()
    };
    let bytes = build(
        1,
        &[
            (SectionKind::Thread, 0, thread(42, 0)),
            (SectionKind::Thread, 0, bad),
        ],
    );
    let dump = Dump::parse(&bytes).unwrap();
    assert!(dump.validate_threads(0, &info).is_err());
    assert!(dump.thread(0, 1).is_err());
    assert!(dump.thread(0, 0).is_ok());
}

fn files(entries: &[OpenFile<'_>]) -> Vec<u8> {
    let mut v = Vec::from(files_head(entries.len() as u32));
    for f in entries {
        f.encode(&mut |b| v.extend_from_slice(b));
    }
    v
}

#[test]
fn pipes_and_shared_files_are_checked() {
    let pipe_end = |fd, id, path| OpenFile {
        fd,
        kind: file_kind::PIPE,
        flags: 0,
        cloexec: false,
        pos: 0,
        id,
        path,
    };
    let mut pipe = Vec::from(PipeState::encode_head(7, 65536, 2));
    pipe.extend_from_slice(b"hi");
    let check = |sections: &[(SectionKind, u32, Vec<u8>)]| {
        let bytes = build(1, sections);
        Dump::parse(&bytes).unwrap().validate_ipc()
    };
    let good_files = files(&[pipe_end(3, 1, b"pipe:[7]"), pipe_end(4, 1, b"pipe:[7]")]);
    assert_eq!(
        check(&[
            (SectionKind::Files, 0, good_files.clone()),
            (SectionKind::Pipe, 0, pipe.clone()),
        ]),
        Ok(())
    );
    assert!(
        check(&[(SectionKind::Files, 0, good_files.clone())]).is_err(),
        "pipe descriptor without its pipe"
    );
    assert!(
        check(&[
            (SectionKind::Files, 0, good_files),
            (SectionKind::Pipe, 0, pipe.clone()),
            (SectionKind::Pipe, 0, pipe.clone()),
        ])
        .is_err(),
        "one pipe twice"
    );
    let disagree = files(&[pipe_end(3, 1, b"pipe:[7]"), pipe_end(4, 1, b"pipe:[8]")]);
    let pipe8 = Vec::from(PipeState::encode_head(8, 65536, 0));
    assert!(
        check(&[
            (SectionKind::Files, 0, disagree),
            (SectionKind::Pipe, 0, pipe),
            (SectionKind::Pipe, 0, pipe8),
        ])
        .is_err(),
        "one open file, two pipes"
    );
}

#[test]
fn clocks_are_checked() {
    let c = Clocks {
        monotonic_ns: 5_000_000_000,
        boottime_ns: 6_000_000_000,
    };
    assert_eq!(Clocks::decode(&c.encode()), Ok(c));
    let behind = Clocks {
        boottime_ns: 1,
        ..c
    };
    assert!(
        Clocks::decode(&behind.encode()).is_err(),
        "boot clock behind"
    );
    let clocks = |sections: &[(SectionKind, u32, Vec<u8>)]| {
        Dump::parse(&build(2, sections)).unwrap().clocks()
    };
    let one = (SectionKind::Clocks, 0, Vec::from(c.encode()));
    assert_eq!(clocks(&[]), Ok(None));
    assert_eq!(clocks(core::slice::from_ref(&one)), Ok(Some(c)));
    assert!(clocks(&[one.clone(), one.clone()]).is_err(), "twice");
    assert!(
        clocks(&[(SectionKind::Clocks, 1, one.2)]).is_err(),
        "not process 0"
    );
}

#[test]
fn every_flipped_byte_is_caught() {
    let bytes = sample();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert!(Dump::parse(&bad).is_err(), "flip at {i} went unnoticed");
    }
}

#[test]
fn every_truncation_is_caught() {
    let bytes = sample();
    for n in 0..bytes.len() {
        assert!(
            Dump::parse(&bytes[..n]).is_err(),
            "truncation to {n} went unnoticed"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Dump::parse(&longer),
        Err(DumpError::Length { .. })
    ));
}

#[test]
fn header_errors_are_specific() {
    let bytes = sample();
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert_eq!(Dump::parse(&bad).unwrap_err(), DumpError::BadMagic);
    let mut h = Header::decode(&bytes).unwrap();
    h.arch = 0x4000_00b7; // AUDIT_ARCH_AARCH64
    let mut bad = bytes.clone();
    bad[..HEADER_SIZE].copy_from_slice(&h.encode());
    assert_eq!(Dump::parse(&bad).unwrap_err(), DumpError::Arch(0x4000_00b7));
    let mut bad = bytes.clone();
    bad[8] = 9;
    assert_eq!(Dump::parse(&bad).unwrap_err(), DumpError::Version(9));
    assert_eq!(Dump::parse(&bytes[..10]).unwrap_err(), DumpError::TooShort);
}

#[test]
fn lengths_near_the_limits_are_refused() {
    let bytes = [0u8; 64];
    for len in [usize::MAX, usize::MAX - 6, usize::MAX - 7, 65] {
        assert!(Reader::new(&bytes).padded(len, "x").is_err(), "{len}");
    }
    assert_eq!(Reader::new(&bytes).padded(57, "x").map(<[u8]>::len), Ok(57));
    let mut r = Reader::new(&bytes);
    assert_eq!(r.padded(9, "x").map(<[u8]>::len), Ok(9));
    assert_eq!(r.rest().len(), 48);
    assert_eq!(SectionWriter::size(u64::MAX), u64::MAX);
    assert_eq!(SectionWriter::size(1), 21);
    // A path length of u32::MAX in a memory area and an open file.
    for (head, entry_len, len_at) in [
        (vmas_head(1), VMA_SIZE, 32),
        (files_head(1), OPEN_FILE_SIZE, 24),
    ] {
        let mut v = Vec::from(head);
        v.resize(8 + entry_len + 8, 0);
        v[8 + len_at..8 + len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_vmas(&v).is_err());
        assert!(decode_files(&v).is_err());
    }
    // Pages: a count of u32::MAX; queued signals: a count whose size
    // would overflow.
    let mut p = PagesHead {
        vma: 0,
        count: u32::MAX,
    }
    .encode()
    .to_vec();
    p.extend_from_slice(&[0; 64]);
    let area = Vma {
        start: 0,
        end: USER_END,
        offset: 0,
        prot: 0,
        flags: 0,
        path: b"",
        stamp: FileStamp::default(),
    };
    assert!(PagesHead::decode(&p, &area).is_err());
    assert_eq!(
        PagesHead::payload_len(u32::MAX),
        8 + u64::from(u32::MAX) * 4104
    );
    for queued in [u64::MAX, u64::MAX / 136 + 1, 1 << 20 | 1] {
        let mut b = Vec::new();
        SignalState::default().encode(&mut |x| b.extend_from_slice(x));
        let at = b.len() - 8;
        b[at..].copy_from_slice(&queued.to_le_bytes());
        assert!(SignalState::decode(&b).is_err(), "{queued}");
    }
}

#[test]
fn sections_are_walked_without_checksums_after_parse() {
    let bytes = sample();
    let dump = Dump::parse(&bytes).unwrap();
    // The iterators see what parse verified, in order.
    let kinds: Vec<_> = dump.sections().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SectionKind::Process,
            SectionKind::Thread,
            SectionKind::Thread,
            SectionKind::Vmas,
            SectionKind::Pages
        ]
    );
    assert_eq!(dump.walk(true).filter(Result::is_ok).count(), 5);
}

#[test]
fn impossible_values_are_refused() {
    let area = two_page_area();
    let mut p = PagesHead { vma: 0, count: 1 }.encode().to_vec();
    p.extend_from_slice(&0x5000u64.to_le_bytes());
    p.extend_from_slice(&[0; PAGE_SIZE as usize]);
    assert!(PagesHead::decode(&p, &area).is_err());
    let mut regs = Registers::default().encode();
    assert!(Registers::decode(&regs).is_err());
    regs[Registers::CS * 8] = 0x33;
    regs[Registers::SS * 8] = 0x2b;
    assert!(Registers::decode(&regs).is_ok());
    let mut v = Vec::from(vmas_head(2));
    for (s, e) in [(0x2000u64, 0x4000u64), (0x3000, 0x5000)] {
        Vma {
            start: s,
            end: e,
            offset: 0,
            prot: 1,
            flags: 0,
            path: b"",
            stamp: FileStamp::default(),
        }
        .encode(&mut |b| v.extend_from_slice(b));
    }
    assert!(decode_vmas(&v).is_err());
}

/// An anonymous read-write area of two pages at 0x1000.
pub(crate) fn two_page_area() -> Vma<'static> {
    Vma {
        start: 0x1000,
        end: 0x3000,
        offset: 0,
        prot: 3,
        flags: 0,
        path: b"",
        stamp: FileStamp::default(),
    }
}

/// The memory map of [`paged`]: a program's text (2 pages at 0x40_0000),
/// an anonymous area of 128 pages at 0x70_0000 (room for more than
/// [`ZSTD_PAGES_MAX`]), a heap of 4 pages at 0x90_0000.
pub(crate) fn paged_areas() -> [Vma<'static>; 3] {
    let anon = |start: u64, pages: u64, flags: u32| Vma {
        start,
        end: start + pages * PAGE_SIZE,
        offset: 0,
        prot: prot::READ | prot::WRITE,
        flags,
        path: b"",
        stamp: FileStamp::default(),
    };
    [
        Vma {
            start: 0x40_0000,
            end: 0x40_2000,
            offset: 0,
            prot: prot::READ | prot::EXEC,
            flags: vma_flags::FILE,
            path: b"/bin/app",
            stamp: FileStamp::default(),
        },
        anon(0x70_0000, 128, 0),
        anon(0x90_0000, 4, vma_flags::HEAP),
    ]
}

/// A dump of one process (pid 42, one thread), every required section
/// valid, the memory map [`paged_areas`], and these pages sections
/// (kind, payload) in this order.
pub(crate) fn paged(pages: &[(SectionKind, Vec<u8>)]) -> Vec<u8> {
    let mut vmas = Vec::from(vmas_head(3));
    for v in &paged_areas() {
        v.encode(&mut |b| vmas.extend_from_slice(b));
    }
    let mut signals = Vec::new();
    SignalState::default().encode(&mut |x| signals.extend_from_slice(x));
    let mut sections = Vec::from([
        (SectionKind::Process, 0, process(42, 1)),
        (SectionKind::Mm, 0, Vec::from(MmLayout::default().encode())),
        (SectionKind::Thread, 0, thread(42, 0)),
        (SectionKind::Signals, 0, signals),
        (SectionKind::Vmas, 0, vmas),
    ]);
    sections.extend(pages.iter().map(|(kind, p)| (*kind, 0, p.clone())));
    sections.push((SectionKind::Files, 0, files(&[])));
    build(1, &sections)
}

/// A ZstdPages payload: a head of `count` pages of area `vma`, the
/// addresses `addrs` (as many as they are, whatever `count` says), a frame
/// of `frame` bytes (arbitrary: nothing looks into it but zstd).
pub(crate) fn zstd_payload(vma: u32, count: u32, addrs: &[u64], frame: usize) -> Vec<u8> {
    let mut p = Vec::from(PagesHead { vma, count }.encode());
    for a in addrs {
        p.extend_from_slice(&a.to_le_bytes());
    }
    p.extend((0..frame).map(|i| (i * 7 + 0x28) as u8));
    p
}

/// A Pages payload of area `vma`: the pages at `addrs`, each filled with
/// its number.
pub(crate) fn pages_payload(vma: u32, addrs: &[u64]) -> Vec<u8> {
    let mut p = Vec::from(
        PagesHead {
            vma,
            count: addrs.len() as u32,
        }
        .encode(),
    );
    for a in addrs {
        p.extend_from_slice(&a.to_le_bytes());
    }
    for (i, _) in addrs.iter().enumerate() {
        p.extend_from_slice(&[i as u8; PAGE_SIZE as usize]);
    }
    p
}

/// `n` consecutive page addresses from `start`.
pub(crate) fn page_run(start: u64, n: u64) -> Vec<u64> {
    (0..n).map(|i| start + i * PAGE_SIZE).collect()
}

/// What `validate` says of [`paged`] with these pages sections (the dump
/// parses whatever they hold: their checksums are right).
fn validate_paged(pages: &[(SectionKind, Vec<u8>)]) -> Result<(), DumpError> {
    let bytes = paged(pages);
    let dump = Dump::parse(&bytes).expect("checksums right");
    dump.validate()
}

#[test]
fn compressed_pages_validate() {
    use SectionKind::{Pages, ZstdPages};
    let areas = paged_areas();
    // Two sections of the anonymous area, addresses increasing across
    // them, the first of the most pages a section has; one of the heap
    // with the longest frame; a plain section of the heap after them.
    let first = page_run(0x70_0000, ZSTD_PAGES_MAX.into());
    let second = [0x74_0000, 0x74_2000, 0x77_f000];
    let sections = [
        (ZstdPages, zstd_payload(1, ZSTD_PAGES_MAX, &first, 1)),
        (ZstdPages, zstd_payload(1, 3, &second, 300)),
        (
            ZstdPages,
            zstd_payload(2, 1, &[0x90_0000], ZSTD_FRAME_MAX as usize),
        ),
        (Pages, pages_payload(2, &[0x90_1000, 0x90_3000])),
    ];
    let bytes = paged(&sections);
    let dump = Dump::parse(&bytes).unwrap();
    assert_eq!(dump.validate(), Ok(()));
    let kinds: Vec<_> = dump
        .sections()
        .filter(|s| s.kind.has_pages())
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds, [ZstdPages, ZstdPages, ZstdPages, Pages]);
    assert_eq!(dump.sections_of(0, ZstdPages).count(), 3);
    // Each section's addresses, whatever its kind; the frame is what
    // follows them.
    let mut all = Vec::new();
    for (s, (_, payload)) in dump
        .sections()
        .filter(|s| s.kind.has_pages())
        .zip(&sections)
    {
        assert_eq!(s.payload, &payload[..]);
        let area = &areas[usize::from(s.payload[0])];
        let (head, addrs) = dump.page_addresses(&s, area).unwrap();
        assert_eq!(addrs, &s.payload[8..8 + 8 * head.count as usize]);
        all.extend(
            addrs
                .chunks_exact(8)
                .map(|a| Reader::new(a).u64("a").unwrap()),
        );
        if s.kind == ZstdPages {
            let (zhead, zaddrs, frame) = PagesHead::decode_zstd(s.payload, area).unwrap();
            assert_eq!((zhead, zaddrs), (head, addrs));
            assert_eq!(frame, &payload[PagesHead::kept_len(head.count) as usize..]);
            assert!(PagesHead::decode(s.payload, area).is_err(), "not pages");
        }
    }
    let expected: Vec<u64> = first
        .iter()
        .chain(&second)
        .chain(&[0x90_0000, 0x90_1000, 0x90_3000])
        .copied()
        .collect();
    assert_eq!(all, expected);
}

#[test]
fn compressed_pages_of_the_wrong_size_are_refused() {
    use SectionKind::ZstdPages;
    let size = Err(DumpError::Invalid(
        "compressed pages section of the wrong size",
    ));
    let zstd = |count: u32, addrs: &[u64], frame: usize| {
        validate_paged(&[(ZstdPages, zstd_payload(1, count, addrs, frame))])
    };
    let run = |n: u64| page_run(0x70_0000, n);
    // The limits themselves are taken...
    assert_eq!(zstd(1, &run(1), 1), Ok(()));
    assert_eq!(zstd(64, &run(64), 1), Ok(()));
    assert_eq!(zstd(64, &run(64), ZSTD_FRAME_MAX as usize), Ok(()));
    // ...not one past them: no pages, 65 pages, no frame, a frame too long.
    assert_eq!(zstd(0, &[], 100), size);
    assert_eq!(zstd(ZSTD_PAGES_MAX + 1, &run(65), 100), size);
    assert_eq!(zstd(2, &run(2), 0), size);
    assert_eq!(zstd(2, &run(2), ZSTD_FRAME_MAX as usize + 1), size);
    // A count its addresses do not fill (their bytes taken for the frame),
    // or one far past the payload.
    assert_eq!(zstd(3, &run(2), 4), size);
    assert_eq!(zstd(u32::MAX, &run(2), 4), size);
    assert_eq!(
        zstd(3, &run(2), 9),
        Err(DumpError::Invalid(
            "page address outside its area or unsorted"
        )),
        "the frame's first bytes read as an address"
    );
}

#[test]
fn compressed_pages_are_checked_against_their_area() {
    use SectionKind::{Pages, ZstdPages};
    let outside = Err(DumpError::Invalid(
        "page address outside its area or unsorted",
    ));
    let zstd =
        |vma: u32, addrs: &[u64]| (ZstdPages, zstd_payload(vma, addrs.len() as u32, addrs, 16));
    assert_eq!(validate_paged(&[zstd(1, &[0x77_f000])]), Ok(()));
    // Past the end, before the start, in another area, not page aligned,
    // unsorted or repeated within the section.
    for addrs in [
        &[0x78_0000][..],
        &[0x6f_f000],
        &[0x90_0000],
        &[0x70_0800],
        &[0x70_2000, 0x70_1000],
        &[0x70_1000, 0x70_1000],
    ] {
        assert_eq!(validate_paged(&[zstd(1, addrs)]), outside, "{addrs:x?}");
    }
    // An area the map does not have (it has three).
    let missing = Err(DumpError::Invalid(
        "pages of a memory area that does not exist",
    ));
    assert_eq!(validate_paged(&[zstd(3, &[0x70_0000])]), missing);
    assert_eq!(validate_paged(&[zstd(u32::MAX, &[0x70_0000])]), missing);
    assert_eq!(
        validate_paged(&[zstd(1, &[0x70_0000]), zstd(7, &[0x71_0000])]),
        missing
    );
    // Pages and compressed pages alike.
    assert_eq!(
        validate_paged(&[(Pages, pages_payload(1, &[0x78_0000]))]),
        outside
    );
}

#[test]
fn page_addresses_increase_across_sections() {
    use SectionKind::{Pages, ZstdPages};
    let unsorted = Err(DumpError::Invalid("page sections unsorted or repeated"));
    let zstd =
        |vma: u32, addrs: &[u64]| (ZstdPages, zstd_payload(vma, addrs.len() as u32, addrs, 5));
    let plain = |vma: u32, addrs: &[u64]| (Pages, pages_payload(vma, addrs));
    let a = 0x70_0000;
    let p = PAGE_SIZE;
    // Several sections of one area, of either kind, in increasing order.
    let increasing = [
        [zstd(1, &[a, a + p]), zstd(1, &[a + 2 * p])],
        [zstd(1, &[a]), zstd(1, &[a + 127 * p])],
        [plain(1, &[a]), zstd(1, &[a + p])],
        [zstd(1, &[a]), plain(1, &[a + p, a + 9 * p])],
        [zstd(1, &[a + 5 * p]), zstd(2, &[0x90_0000])],
    ];
    for (i, sections) in increasing.iter().enumerate() {
        assert_eq!(validate_paged(sections), Ok(()), "increasing {i}");
    }
    // Not increasing across two sections of one area: overlapping,
    // repeating a page, or wholly before.
    let not_increasing = [
        [zstd(1, &[a, a + 2 * p]), zstd(1, &[a + p])],
        [zstd(1, &[a, a + p]), zstd(1, &[a + p, a + 2 * p])],
        [zstd(1, &[a + 3 * p]), zstd(1, &[a])],
        [zstd(1, &[a]), zstd(1, &[a])],
        // A Pages then a ZstdPages section of one area, and the other way.
        [plain(1, &[a, a + 2 * p]), zstd(1, &[a + 2 * p])],
        [plain(1, &[a + 4 * p]), zstd(1, &[a + 3 * p])],
        [zstd(1, &[a + 4 * p]), plain(1, &[a + p])],
        // Areas out of order.
        [zstd(2, &[0x90_0000]), zstd(1, &[a])],
        [plain(2, &[0x90_0000]), zstd(1, &[a])],
    ];
    for (i, sections) in not_increasing.iter().enumerate() {
        assert_eq!(validate_paged(sections), unsorted, "not increasing {i}");
    }
    // Another section in between changes nothing.
    let three = [
        zstd(1, &[a + 2 * p]),
        plain(2, &[0x90_0000]),
        zstd(1, &[a + 3 * p]),
    ];
    assert_eq!(validate_paged(&three), unsorted);
}
