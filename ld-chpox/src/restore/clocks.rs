// SPDX-License-Identifier: GPL-2.0

//! The clocks that start from zero at boot (`CLOCK_MONOTONIC`,
//! `CLOCK_BOOTTIME`) must not go back for a restored program, which may
//! compare them with values it read before the checkpoint. In the boot of
//! the checkpoint they only moved on, as across a suspend. In a later boot
//! they would be behind: then ld-chpox puts the processes it forks in a new
//! time namespace whose offsets make both clocks go on from the dumped
//! values.

use super::Error;
use chpox_abi::dump::{Clocks, Dump};
use nix::libc;
use nix::sched::{unshare, CloneFlags};
use nix::time::{clock_gettime, ClockId};
use std::fs;

const NS_PER_SEC: i128 = 1_000_000_000;

fn now(clock: ClockId) -> Result<i128, Error> {
    let ts = clock_gettime(clock).map_err(|e| format!("clock_gettime: {e}"))?;
    Ok(ts.tv_sec() as i128 * NS_PER_SEC + ts.tv_nsec() as i128)
}

/// The offsets of ld-chpox's own time namespace (zero outside any):
/// monotonic, boottime in nanoseconds.
fn own_offsets() -> Result<(i128, i128), Error> {
    let text = match fs::read_to_string("/proc/self/timens_offsets") {
        Ok(text) => text,
        // A kernel without time namespaces has no offsets.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(format!("/proc/self/timens_offsets: {e}").into()),
    };
    let (mut monotonic, mut boottime) = (0, 0);
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, sec, nsec] = fields[..] else {
            continue;
        };
        let (Ok(sec), Ok(nsec)) = (sec.parse::<i128>(), nsec.parse::<i128>()) else {
            return Err(format!("/proc/self/timens_offsets: cannot read {line:?}").into());
        };
        match name {
            "monotonic" => monotonic = sec * NS_PER_SEC + nsec,
            "boottime" => boottime = sec * NS_PER_SEC + nsec,
            _ => {}
        }
    }
    Ok((monotonic, boottime))
}

/// `NAME SEC NSEC`, as /proc/PID/timens_offsets takes an offset.
fn offset_line(name: &str, ns: i128) -> String {
    format!(
        "{name} {} {}\n",
        ns.div_euclid(NS_PER_SEC),
        ns.rem_euclid(NS_PER_SEC)
    )
}

/// Makes the processes forked from now on see the dumped clocks go on
/// where they were, if they would otherwise be behind. Without the right
/// to create a time namespace (not root), says so and goes on.
pub(crate) fn keep_going(dump: &Dump<'_>) -> Result<(), Error> {
    let Some(Clocks {
        monotonic_ns,
        boottime_ns,
    }) = dump.clocks()?
    else {
        return Ok(());
    };
    let behind_monotonic = monotonic_ns as i128 - now(ClockId::CLOCK_MONOTONIC)?;
    let behind_boottime = boottime_ns as i128 - now(ClockId::CLOCK_BOOTTIME)?;
    if behind_monotonic <= 0 && behind_boottime <= 0 {
        return Ok(());
    }
    let (own_monotonic, own_boottime) = own_offsets()?;
    // nix's CloneFlags has no name for CLONE_NEWTIME.
    if let Err(e) = unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)) {
        let e = std::io::Error::from(e);
        eprintln!(
            "ld-chpox: note: the restored processes' monotonic clock goes back by {:.1} s \
             (dumped in an earlier boot; no time namespace to hide it: {e})",
            behind_monotonic.max(0) as f64 / 1e9
        );
        return Ok(());
    }
    let offsets = offset_line("monotonic", own_monotonic + behind_monotonic.max(0))
        + &offset_line("boottime", own_boottime + behind_boottime.max(0));
    fs::write("/proc/self/timens_offsets", offsets)
        .map_err(|e| Error::sys("setting the clocks of a new time namespace", e))
}
