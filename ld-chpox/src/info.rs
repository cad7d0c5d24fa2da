// SPDX-License-Identifier: GPL-2.0

//! `ld-chpox --info`: what a (validated) dump holds, for people.

use chpox_abi::dump::{
    decode_files, decode_vmas, file_kind, vma_flags, Dump, MmLayout, ProcessInfo, Registers,
    SectionKind, SignalState, Thread, PAGE_SIZE,
};
use chpox_abi::ipc::{socket_type, PipeState, SocketState};
use chpox_abi::signal;
use std::fmt::Write;
use std::path::Path;

/// `YYYY-MM-DD HH:MM:SS` UTC of a Unix time (days-from-civil, inverted).
fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn kind_name(kind: u32) -> &'static str {
    match kind {
        file_kind::REGULAR => "file",
        file_kind::DIRECTORY => "directory",
        file_kind::TTY => "terminal",
        file_kind::CHAR => "device",
        file_kind::PIPE => "pipe",
        file_kind::SOCKET => "socket",
        _ => "other",
    }
}

/// The description; `dump` must have passed `validate()`.
pub fn describe(path: &Path, dump: &Dump<'_>) -> String {
    let h = &dump.header;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: chpox dump, x86_64, kernel {}, taken {}, {} process(es), {} sections, {}",
        path.display(),
        String::from_utf8_lossy(h.release()),
        utc(h.created_sec),
        h.processes,
        h.sections,
        bytes(h.file_size)
    );
    if let Ok(Some(c)) = dump.clocks() {
        let _ = writeln!(
            out,
            "clocks: monotonic {:.3} s, boottime {:.3} s",
            c.monotonic_ns as f64 / 1e9,
            c.boottime_ns as f64 / 1e9
        );
    }
    for p in 0..h.processes {
        describe_process(&mut out, dump, p);
    }
    describe_ipc(&mut out, dump);
    out
}

/// The pipes and unix sockets, with what waits in them.
fn describe_ipc(out: &mut String, dump: &Dump<'_>) {
    for s in dump.sections() {
        match s.kind {
            SectionKind::Pipe => {
                if let Ok(p) = PipeState::decode(s.payload) {
                    let _ = writeln!(
                        out,
                        "pipe:[{}]: {} unread of {}",
                        p.inode,
                        bytes(p.data.len() as u64),
                        bytes(u64::from(p.capacity))
                    );
                }
            }
            SectionKind::Socket => {
                if let Ok(k) = SocketState::decode(s.payload) {
                    let kind = match k.kind {
                        socket_type::STREAM => "stream",
                        socket_type::DGRAM => "datagram",
                        _ => "seqpacket",
                    };
                    let mut peer = match (k.listening, k.peer) {
                        (Some(backlog), _) => format!("listening (backlog {backlog})"),
                        (None, 0) => "no peer".to_string(),
                        (None, n) => format!("peer socket:[{n}]"),
                    };
                    if !k.name.is_empty() {
                        peer = format!("bound to {}, {peer}", crate::restore::shown_name(k.name));
                    }
                    let queued: usize = k.messages().map(<[u8]>::len).sum();
                    let _ = writeln!(
                        out,
                        "socket:[{}]: unix {kind}, {peer}, {} message(s), {} queued",
                        k.inode,
                        k.count,
                        bytes(queued as u64)
                    );
                }
            }
            _ => {}
        }
    }
}

fn describe_process(out: &mut String, dump: &Dump<'_>, p: u32) {
    // Validated: every required section is there and decodes.
    let Ok(process) = dump.only(p, SectionKind::Process) else {
        return;
    };
    let Ok((info, cwd, exe)) = ProcessInfo::decode(process.payload) else {
        return;
    };
    let comm = String::from_utf8_lossy(&info.comm);
    let _ = writeln!(
        out,
        "process {p}: pid {} '{}' (ppid {}, pgid {}, sid {}), uid {}, gid {}, umask {:03o}, {} thread(s)",
        info.pid,
        comm.trim_end_matches('\0'),
        info.ppid,
        info.pgid,
        info.sid,
        info.uids[1],
        info.gids[1],
        info.umask,
        info.threads
    );
    let _ = writeln!(
        out,
        "  cwd {}, executable {}",
        String::from_utf8_lossy(cwd),
        String::from_utf8_lossy(exe)
    );
    for (t, thread) in dump.threads(p).enumerate() {
        if let Ok(thread) = thread {
            describe_thread(out, t, &thread);
        }
    }
    if let Ok(zombies) = dump.zombies(p) {
        for z in zombies {
            let how = match z.outcome() {
                Ok(code) => format!("exited with {code}"),
                Err(sig) => format!("killed by signal {sig}"),
            };
            let _ = writeln!(out, "  child {} {how}, not waited for yet", z.pid);
        }
    }
    let mm = dump
        .only(p, SectionKind::Mm)
        .and_then(|s| MmLayout::decode(s.payload));
    if let (Ok(vmas), Ok(mm)) = (
        dump.only(p, SectionKind::Vmas)
            .and_then(|s| decode_vmas(s.payload)),
        mm,
    ) {
        let areas: Vec<_> = vmas.collect();
        let (mut pages, mut compressed) = (0u64, false);
        let sections = dump
            .sections()
            .filter(|s| s.process == p && s.kind.has_pages());
        for s in sections {
            compressed |= s.kind == SectionKind::ZstdPages;
            let idx = s.payload.get(..4).and_then(|b| b.try_into().ok());
            let idx = u32::from_le_bytes(idx.unwrap_or_default());
            if let Some(area) = areas.get(idx as usize) {
                // The page contents are not in ld-chpox's image of the
                // dump: the count is the head's.
                if let Ok((head, _)) = dump.page_addresses(&s, area) {
                    pages += u64::from(head.count);
                }
            }
        }
        let mapped: u64 = areas.iter().map(|a| a.end - a.start).sum();
        let _ = writeln!(
            out,
            "  memory: {} areas mapping {}, {} pages ({}) saved{}; brk {:#x}",
            areas.len(),
            bytes(mapped),
            pages,
            bytes(pages * PAGE_SIZE),
            if compressed { " compressed (zstd)" } else { "" },
            mm.fields[MmLayout::BRK]
        );
        for a in &areas {
            let what = match a.flags {
                f if f & vma_flags::VDSO != 0 => "[vdso]".into(),
                f if f & vma_flags::VVAR != 0 => "[vvar]".into(),
                f if f & vma_flags::HEAP != 0 => "[heap]".into(),
                f if f & vma_flags::STACK != 0 => "[stack]".into(),
                f if f & vma_flags::FILE != 0 => String::from_utf8_lossy(a.path).into_owned(),
                _ => String::new(),
            };
            let prot: String = [(1, 'r'), (2, 'w'), (4, 'x')]
                .iter()
                .map(|&(b, c)| if a.prot & b != 0 { c } else { '-' })
                .chain([if a.flags & vma_flags::SHARED != 0 {
                    's'
                } else {
                    'p'
                }])
                .collect();
            let _ = writeln!(out, "    {:012x}-{:012x} {prot} {what}", a.start, a.end);
        }
    }
    if let Ok((st, _)) = dump
        .only(p, SectionKind::Signals)
        .and_then(|s| SignalState::decode(s.payload))
    {
        let handled: Vec<String> = st
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.handler > 1)
            .map(|(i, _)| signal::name(i as u32 + 1).map_or((i + 1).to_string(), str::to_string))
            .collect();
        let _ = writeln!(
            out,
            "  signals: handlers for [{}], pending for the process {:#x} ({} queued)",
            handled.join(" "),
            st.shared_pending,
            st.queued
        );
    }
    if let Ok(files) = dump
        .only(p, SectionKind::Files)
        .and_then(|s| decode_files(s.payload))
    {
        for f in files {
            let _ = writeln!(
                out,
                "  fd {}: {} {} (flags {:#o}, offset {}{}, open file #{})",
                f.fd,
                kind_name(f.kind),
                String::from_utf8_lossy(f.path),
                f.flags,
                f.pos,
                if f.cloexec { ", cloexec" } else { "" },
                f.id
            );
        }
    }
}

/// Thread `t` of a process: what it has of its own.
fn describe_thread(out: &mut String, t: usize, thread: &Thread<'_>) {
    let info = &thread.info;
    let name = String::from_utf8_lossy(&info.comm);
    let r = thread.registers().0;
    let _ = writeln!(
        out,
        "  thread {t}: tid {} '{}'{}, rip {:#x}, rsp {:#x}, fs_base {:#x}; FPU state {} bytes",
        info.tid,
        name.trim_end_matches('\0'),
        if t == 0 { " (leader)" } else { "" },
        r[Registers::RIP],
        r[Registers::RSP],
        r[Registers::FS_BASE],
        thread.xstate.len()
    );
    let altstack = match info.altstack {
        [_, 0, _] => String::new(),
        [sp, size, _] => format!(", alternate stack at {sp:#x} ({})", bytes(size)),
    };
    let _ = writeln!(
        out,
        "    signals: blocked {:#x}, pending {:#x} ({} queued){altstack}",
        info.blocked,
        info.pending,
        thread.queued().count()
    );
    let clear = match info.clear_child_tid {
        0 => "no clear_child_tid".to_string(),
        a => format!("clear_child_tid at {a:#x}"),
    };
    let robust = match info.robust_list {
        0 => "no robust futex list".to_string(),
        a => format!("robust futex list at {a:#x}"),
    };
    let _ = writeln!(out, "    {clear}, {robust}");
    if let Some(rseq) = thread.rseq() {
        let _ = writeln!(
            out,
            "    rseq area at {:#x}, {} bytes (registered again on restore)",
            rseq.addr, rseq.len
        );
    }
    if let Some(sleep) = thread.sleep() {
        let _ = writeln!(
            out,
            "    in a sleep on clock {} with {} ms left (continued by restart_syscall)",
            sleep.clockid,
            sleep.remaining_ns / 1_000_000
        );
    }
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_400_000), "2026-11-23 02:13:20 UTC");
    }
}
