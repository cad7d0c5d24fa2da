// SPDX-License-Identifier: GPL-2.0

//! Process trees talking through pipes and unix sockets.

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Numbers the parent has squared so far.
static COUNT: AtomicU64 = AtomicU64::new(0);

/// SIGUSR1: sleeps ten seconds, then prints the count.
extern "C" fn usr1(_: i32) {
    let ts = libc::timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    // SAFETY: nanosleep is async-signal-safe; EINTR ends the nap early.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    let msg = format!("count {}\n", COUNT.load(Ordering::SeqCst));
    // SAFETY: write(2) is async-signal-safe (the formatting allocates,
    // which the main loop, blocked in read(), does not do concurrently).
    unsafe { libc::write(1, msg.as_ptr().cast(), msg.len()) };
}

fn child(f: impl FnOnce() -> ExitCode) -> nix::unistd::Pid {
    // SAFETY: single-threaded; the child runs `f` and exits.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = f();
            let _ = std::io::stdout().flush();
            std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
        }
        ForkResult::Parent { child } => child,
    }
}

/// `squares INPUT OUTPUT INTERVAL_MS`: a reader child sends the lines of
/// INPUT to the parent through a pipe, one every INTERVAL_MS; the parent
/// squares each number and sends it over a unix socketpair to a writer
/// child, which writes it to OUTPUT. SIGUSR1 makes the parent sleep ten
/// seconds in its handler and print the count. At the end the parent
/// prints "done N".
pub fn squares(input: &str, output: &str, interval: &str) -> ExitCode {
    let Ok(interval) = interval.parse::<u64>() else {
        eprintln!("testprog: squares needs an interval in ms");
        return ExitCode::from(2);
    };
    let action = SigAction::new(
        SigHandler::Handler(usr1),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only sleeps and writes.
    unsafe { sigaction(Signal::SIGUSR1, &action) }.expect("sigaction");
    let (from_reader, to_parent) = nix::unistd::pipe().expect("pipe");
    let (to_writer, at_writer) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::empty(),
    )
    .expect("socketpair");
    let reader = child(|| {
        close(&[&from_reader, &to_writer, &at_writer]);
        let mut pipe = file(&to_parent);
        let Ok(f) = File::open(input) else {
            eprintln!("testprog: cannot open {input}");
            return ExitCode::FAILURE;
        };
        for line in BufReader::new(f).lines() {
            let line = line.expect("read input");
            pipe.write_all(format!("{line}\n").as_bytes())
                .expect("pipe");
            std::thread::sleep(Duration::from_millis(interval));
        }
        ExitCode::SUCCESS
    });
    drop(to_parent);
    let writer = child(|| {
        close(&[&from_reader, &to_writer]);
        // Written at the file offset (not O_APPEND): a restored writer goes
        // on from where the checkpoint saw it.
        let Ok(mut out) = File::create(output) else {
            eprintln!("testprog: cannot create {output}");
            return ExitCode::FAILURE;
        };
        for line in BufReader::new(file(&at_writer)).lines() {
            let line = line.expect("socket");
            out.write_all(format!("{line}\n").as_bytes())
                .expect("output");
        }
        ExitCode::SUCCESS
    });
    drop(at_writer);
    let mut to_writer = File::from(to_writer);
    for line in BufReader::new(File::from(from_reader)).lines() {
        let line = line.expect("pipe");
        let Ok(n) = line.trim().parse::<u64>() else {
            continue;
        };
        to_writer
            .write_all(format!("{}\n", n * n).as_bytes())
            .expect("socket");
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    drop(to_writer);
    let ok = [reader, writer].iter().all(|&pid| {
        matches!(
            waitpid(pid, None),
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        )
    });
    println!("done {}", COUNT.load(Ordering::SeqCst));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A `File` on a duplicate of `fd`.
fn file(fd: &OwnedFd) -> File {
    File::from(fd.try_clone().expect("dup"))
}

/// Closes descriptors the parent keeps, in a child.
fn close(fds: &[&OwnedFd]) {
    for fd in fds {
        // SAFETY: the child's copy of a descriptor it does not use; the
        // OwnedFd is never dropped in the child (it exits first).
        unsafe { libc::close(fd.as_raw_fd()) };
    }
}

/// Waits until the file `go` exists.
fn wait_for(go: &str) {
    while !std::path::Path::new(go).exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_exact(fd: &OwnedFd, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    file(fd).read_exact(&mut buf).expect("read");
    buf
}

fn recv_all(fd: &OwnedFd, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let mut buf = [0u8; 256];
            // SAFETY: receives one message into our buffer.
            let got = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 256, 0) };
            String::from_utf8_lossy(&buf[..got.max(0) as usize]).into_owned()
        })
        .collect()
}

fn send(fd: &OwnedFd, msg: &str) {
    // SAFETY: sends one message from our buffer.
    unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
}

fn check(who: &str, what: &str, got: impl std::fmt::Debug, want: impl std::fmt::Debug) -> bool {
    let (got, want) = (format!("{got:?}"), format!("{want:?}"));
    if got == want {
        println!("{who}: {what} ok");
        true
    } else {
        println!("{who}: {what} WRONG: {got} instead of {want}");
        false
    }
}

/// `ipc DIR`: a parent and a child leave unread data in two pipes (one each
/// way), datagrams on a socketpair (three one way, two the other) and two
/// packets on a seqpacket pair, bytes on a connection accepted from a
/// named listener (both ends keep seeing its name; it accepts a new client
/// after restore); the child
/// leads a session of its own, a
/// second child a group of its own in the parent's session; and
/// each writes four bytes through one file shared across fork; they say
/// "ready" and wait for DIR/go. Then each reads what was left for it and
/// writes four more bytes in turn: DIR/shared must read AAAABBBBCCCCDDDD
/// if the offset is still one. Prints what matched.
pub fn ipc(dir: &str) -> ExitCode {
    let go = format!("{dir}/go");
    let shared_path = format!("{dir}/shared");
    let mut shared = File::create(&shared_path).expect("shared file");
    let (p2c_r, p2c_w) = nix::unistd::pipe().expect("pipe");
    let (c2p_r, c2p_w) = nix::unistd::pipe().expect("pipe");
    let (turn_r, turn_w) = nix::unistd::pipe().expect("pipe");
    let (mine, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Datagram,
        None,
        SockFlag::empty(),
    )
    .expect("socketpair");
    let (packets_mine, packets_theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::empty(),
    )
    .expect("socketpair");
    // A named listener; the child connects to it before the checkpoint,
    // a third child after restore.
    let sock_path = format!("{dir}/sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).expect("bind");
    shared.write_all(b"AAAA").expect("write");
    let kid = child(|| {
        close(&[&p2c_w, &c2p_r, &turn_w, &mine, &packets_mine]);
        // The child leads a session (and so a group) of its own.
        nix::unistd::setsid().expect("setsid");
        for m in ["first packet", "second"] {
            send(&packets_theirs, m);
        }
        let mut named = std::os::unix::net::UnixStream::connect(&sock_path).expect("connect");
        named.write_all(b"over a named socket").expect("send");
        file(&c2p_w).write_all(b"from the child").expect("pipe");
        close(&[&c2p_w]);
        for m in ["one", "two", "three"] {
            send(&theirs, m);
        }
        let mut shared = shared.try_clone().expect("dup");
        shared.write_all(b"BBBB").expect("write");
        println!("child ready");
        let _ = std::io::stdout().flush();
        wait_for(&go);
        let mut ok = check("child", "pipe", read_exact(&p2c_r, 15), b"from the parent");
        ok &= check(
            "child",
            "datagrams",
            recv_all(&theirs, 2),
            ["alpha", "beta"],
        );
        let peer = named.peer_addr().ok();
        ok &= check(
            "child",
            "peer's name",
            peer.as_ref().and_then(|a| a.as_pathname()),
            Some(std::path::Path::new(&sock_path)),
        );
        let me = nix::unistd::getpid();
        ok &= check(
            "child",
            "session",
            (nix::unistd::getsid(None).ok(), nix::unistd::getpgrp()),
            (Some(me), me),
        );
        // The parent writes first.
        let _ = read_exact(&turn_r, 1);
        shared.write_all(b"DDDD").expect("write");
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    });
    drop((p2c_r, c2p_w, turn_r, theirs, packets_theirs));
    let (mut accepted, _) = listener.accept().expect("accept");
    // Another child leads a group of its own in the parent's session.
    let leader = child(|| {
        nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))
            .expect("setpgid");
        println!("group leader ready");
        let _ = std::io::stdout().flush();
        wait_for(&go);
        let parent_sid = nix::unistd::getsid(Some(nix::unistd::getppid())).ok();
        let me = nix::unistd::getpid();
        let ok = check(
            "group leader",
            "group",
            (nix::unistd::getsid(None).ok(), nix::unistd::getpgrp()),
            (parent_sid, me),
        );
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    });
    file(&p2c_w).write_all(b"from the parent").expect("pipe");
    for m in ["alpha", "beta"] {
        send(&mine, m);
    }
    println!("parent ready");
    let _ = std::io::stdout().flush();
    wait_for(&go);
    let mut ok = check("parent", "pipe", read_exact(&c2p_r, 14), b"from the child");
    ok &= check(
        "parent",
        "datagrams",
        recv_all(&mine, 3),
        ["one", "two", "three"],
    );
    ok &= check(
        "parent",
        "packets",
        recv_all(&packets_mine, 2),
        ["first packet", "second"],
    );
    let mut got = [0u8; 19];
    let named = accepted.read_exact(&mut got).map(|_| got.to_vec());
    ok &= check(
        "parent",
        "named socket",
        named.ok(),
        Some(b"over a named socket".to_vec()),
    );
    let own = accepted.local_addr().ok();
    ok &= check(
        "parent",
        "accepted socket's name",
        own.as_ref().and_then(|a| a.as_pathname()),
        Some(std::path::Path::new(&sock_path)),
    );
    let late = child(|| {
        let sent = std::os::unix::net::UnixStream::connect(&sock_path)
            .and_then(|mut s| s.write_all(b"late"));
        if sent.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    });
    let mut late_msg = String::new();
    let heard = listener
        .accept()
        .and_then(|(mut s, _)| s.read_to_string(&mut late_msg));
    ok &= check(
        "parent",
        "listener",
        (heard.is_ok(), late_msg),
        (true, "late"),
    );
    ok &= matches!(
        waitpid(late, None),
        Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
    );
    let pgid = |pid| nix::unistd::getpgid(Some(pid)).ok();
    ok &= check(
        "parent",
        "groups",
        (pgid(kid), pgid(leader)),
        (Some(kid), Some(leader)),
    );
    shared.write_all(b"CCCC").expect("write");
    file(&turn_w).write_all(b"x").expect("pipe");
    for k in [kid, leader] {
        ok &= matches!(
            waitpid(k, None),
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        );
    }
    drop(p2c_w);
    let content = std::fs::read_to_string(&shared_path).unwrap_or_default();
    ok &= check("parent", "shared offset", content, "AAAABBBBCCCCDDDD");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `zombies DIR`: two children end (one with exit code 3, one killed by
/// SIGTERM) and are not waited for; a third waits for DIR/go. The parent
/// says "ready", waits for DIR/go, then waits for all three by pid and
/// prints what matched.
pub fn zombies(dir: &str) -> ExitCode {
    let go = format!("{dir}/go");
    // child() maps exit codes to 0/1; this one exits with 3 itself.
    let exits = child(|| std::process::exit(3));
    let killed = child(|| {
        let _ = nix::sys::signal::raise(Signal::SIGTERM);
        ExitCode::FAILURE
    });
    let live = child(|| {
        wait_for(&go);
        ExitCode::SUCCESS
    });
    // Both have ended (still zombies: WNOWAIT) before the checkpoint.
    for pid in [exits, killed] {
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::Pid(pid),
            nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
        );
    }
    println!("zombies ready");
    let _ = std::io::stdout().flush();
    wait_for(&go);
    use nix::sys::wait::WaitStatus::{Exited, Signaled};
    let mut ok = check(
        "zombies",
        "exit code",
        waitpid(exits, None),
        Ok::<_, nix::Error>(Exited(exits, 3)),
    );
    ok &= check(
        "zombies",
        "killing signal",
        waitpid(killed, None),
        Ok::<_, nix::Error>(Signaled(killed, Signal::SIGTERM, false)),
    );
    ok &= check(
        "zombies",
        "live child",
        waitpid(live, None),
        Ok::<_, nix::Error>(Exited(live, 0)),
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `shared DIR`: shared memory no path leads to. An anonymous shared area
/// (page 0 written by the process, page 5 by a child that has exited since,
/// so not in the process's own page tables), a memfd mapped shared, and a
/// shared page made read-only. Says "ready", waits for DIR/go, checks all
/// and that the area is still shared with a child forked now.
pub fn shared(dir: &str) -> ExitCode {
    const PAGE: usize = 4096;
    let go = format!("{dir}/go");
    let map = |len: usize, fd: i32, flags: i32| {
        // SAFETY: a new mapping of our own; the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | flags,
                fd,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        // SAFETY: `len` bytes just mapped, ours alone.
        unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) }
    };
    let area = map(8 * PAGE, -1, libc::MAP_ANONYMOUS);
    let put = |at: &mut [u8], text: &[u8]| at[..text.len()].copy_from_slice(text);
    let writer = child(|| {
        put(&mut area[5 * PAGE..], b"from the child");
        ExitCode::SUCCESS
    });
    let _ = waitpid(writer, None);
    put(area, b"from the parent");
    // SAFETY: memfd_create with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"chpox-test".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create");
    // SAFETY: plain calls on our memfd, closed once mapped.
    unsafe {
        assert_eq!(libc::ftruncate(fd, 2 * PAGE as i64), 0, "ftruncate");
    }
    let memfd = map(2 * PAGE, fd, 0);
    // SAFETY: our descriptor.
    unsafe { libc::close(fd) };
    put(&mut memfd[PAGE..], b"in a memfd");
    let read_only = map(PAGE, -1, libc::MAP_ANONYMOUS);
    put(read_only, b"read-only");
    // SAFETY: our own page.
    unsafe { libc::mprotect(read_only.as_mut_ptr().cast(), PAGE, libc::PROT_READ) };
    println!("shared ready");
    let _ = std::io::stdout().flush();
    wait_for(&go);
    let text = |at: &[u8], n: usize| String::from_utf8_lossy(&at[..n]).into_owned();
    let mut ok = check("shared", "own page", text(area, 15), "from the parent");
    ok &= check(
        "shared",
        "child's page",
        text(&area[5 * PAGE..], 14),
        "from the child",
    );
    ok &= check("shared", "memfd", text(&memfd[PAGE..], 10), "in a memfd");
    ok &= check("shared", "read-only page", text(read_only, 9), "read-only");
    let kid = child(|| {
        put(&mut area[2 * PAGE..], b"after restore");
        ExitCode::SUCCESS
    });
    let _ = waitpid(kid, None);
    ok &= check(
        "shared",
        "still shared",
        text(&area[2 * PAGE..], 13),
        "after restore",
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// SIGCHLDs the waiter has had.
static SIGCHLDS: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_sigchld(_: i32) {
    SIGCHLDS.fetch_add(1, Ordering::SeqCst);
}

/// `waiter SECONDS`: forks a child that exits with status 7 after SECONDS,
/// says "ready", and waits for it with a plain `wait()`, restarted after
/// its SIGCHLD handler. Then prints "child 7 sigchld 1 others none" if
/// wait() only ever returned its child, one SIGCHLD came, and nothing is
/// left to wait for even with `__WALL` (a forked snapshot's copy must be
/// none of these).
pub(crate) fn waiter(secs: &str) -> ExitCode {
    let Ok(secs) = secs.parse::<u64>() else {
        eprintln!("testprog: waiter needs a number of seconds");
        return ExitCode::from(2);
    };
    let action = SigAction::new(
        SigHandler::Handler(count_sigchld),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only touches an atomic.
    if let Err(e) = unsafe { sigaction(Signal::SIGCHLD, &action) } {
        eprintln!("testprog: sigaction: {e}");
        return ExitCode::from(2);
    }
    // SAFETY: the child only sleeps and exits.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            std::thread::sleep(Duration::from_secs(secs));
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(7) }
        }
        Ok(ForkResult::Parent { child }) => child.as_raw(),
        Err(e) => {
            eprintln!("testprog: fork: {e}");
            return ExitCode::from(2);
        }
    };
    crate::ready();
    let mut status = 0;
    // SAFETY: wait(2) into a local.
    let got = unsafe { libc::wait(&mut status) };
    if got != child {
        println!("wait returned {got}, not the child {child}");
        return ExitCode::FAILURE;
    }
    let mut other = 0;
    // SAFETY: as above; WNOHANG: it returns at once.
    let left = unsafe { libc::waitpid(-1, &mut other, libc::WNOHANG | libc::__WALL) };
    let others = match left {
        -1 => "none".to_string(),
        pid => format!("pid {pid}"),
    };
    println!(
        "child {} sigchld {} others {others}",
        libc::WEXITSTATUS(status),
        SIGCHLDS.load(Ordering::SeqCst)
    );
    ExitCode::SUCCESS
}
