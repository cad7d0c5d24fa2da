// SPDX-License-Identifier: GPL-2.0

//! `lazy-checks MIB DIR`: memory that a lazy restore (`ld-chpox --lazy`)
//! fills as the program runs. Once `DIR/go` exists, the program at once
//! does what must not see memory half filled: the kernel reads a part of
//! it (`write()`), a part is dropped (`madvise(MADV_DONTNEED)`: zeros), a
//! forked child reads a part, and an area is moved (`mremap`). Then every
//! byte is checked. It prints one line a check and exits 0 if all passed.

use nix::libc;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

const MIB: usize = 1 << 20;

fn byte(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 11) as u8 ^ (i >> 20) as u8
}

fn matches(bytes: &[u8], from: usize) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| b == byte(from + i))
}

/// A private anonymous mapping of `len` bytes filled with the pattern.
fn filled(len: usize) -> &'static mut [u8] {
    // SAFETY: a new private anonymous mapping, owned by nothing else.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(p != libc::MAP_FAILED, "mmap");
    // SAFETY: the mapping is `len` bytes, readable and writable, and lives
    // as long as the process.
    let data = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) };
    data.iter_mut().enumerate().for_each(|(i, b)| *b = byte(i));
    data
}

fn report(what: &str, ok: bool) -> bool {
    println!("lazy: {what} {}", if ok { "ok" } else { "BAD" });
    let _ = std::io::stdout().flush();
    ok
}

pub fn checks(mib: &str, dir: &str) -> ExitCode {
    let Ok(mib) = mib.parse::<usize>() else {
        eprintln!("testprog: lazy-checks needs MiB (at least 16) and a directory");
        return ExitCode::from(2);
    };
    if mib < 16 {
        eprintln!("testprog: lazy-checks needs at least 16 MiB");
        return ExitCode::from(2);
    }
    let len = mib * MIB;
    let data = filled(len);
    let moved = filled(4 * MIB);
    crate::ready();
    let go = std::path::Path::new(dir).join("go");
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut all = true;

    // The kernel reads the last MiB (the background fill's last).
    let copy = std::path::Path::new(dir).join("copy");
    let tail = &data[len - MIB..];
    let written = std::fs::File::create(&copy).and_then(|mut f| f.write_all(tail));
    let mut back = Vec::new();
    let read = std::fs::File::open(&copy).and_then(|mut f| f.read_to_end(&mut back));
    all &= report(
        "write() of memory not filled yet",
        written.is_ok() && read.is_ok() && matches(&back, len - MIB),
    );

    // One MiB dropped: it reads as zeros, and stays so.
    let dropped = len - 3 * MIB..len - 2 * MIB;
    // SAFETY: a page-aligned range inside the mapping.
    let r = unsafe {
        libc::madvise(
            data[dropped.clone()].as_mut_ptr().cast(),
            MIB,
            libc::MADV_DONTNEED,
        )
    };
    std::thread::sleep(Duration::from_millis(300));
    all &= report(
        "memory dropped reads as zeros",
        r == 0 && data[dropped.clone()].iter().all(|&b| b == 0),
    );

    // A child reads memory not filled yet.
    let child_part = len - 6 * MIB..len - 4 * MIB;
    // SAFETY: the child only reads memory and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = matches(&data[child_part.clone()], child_part.start);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    all &= report(
        "a child forked reads its parent's memory",
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    );

    // An area moved elsewhere keeps its contents.
    // SAFETY: a new mapping to move to, then the area moved over it.
    let to = unsafe {
        let hole = libc::mmap(
            std::ptr::null_mut(),
            4 * MIB,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        libc::mremap(
            moved.as_mut_ptr().cast(),
            4 * MIB,
            4 * MIB,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            hole,
        )
    };
    let moved_ok = to != libc::MAP_FAILED && {
        // SAFETY: the area now lives at `to`, 4 MiB long.
        let moved = unsafe { std::slice::from_raw_parts(to.cast::<u8>(), 4 * MIB) };
        matches(moved, 0)
    };
    all &= report("an area moved keeps its contents", moved_ok);

    // Everything else.
    let rest = matches(&data[..dropped.start], 0) && matches(&data[dropped.end..], dropped.end);
    all &= report("all the rest is intact", rest);
    if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
