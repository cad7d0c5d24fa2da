// SPDX-License-Identifier: GPL-2.0

//! The boot-relative clocks: the dump-wide
//! [`SectionKind::Clocks`](super::SectionKind) payload.

use super::DumpError;

record! {
    /// The clocks that start again at zero with every boot, as the dumped
    /// processes saw them (time namespace included) when the dump was
    /// taken. A restore in a later boot keeps them going from there.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Clocks ["clocks"] {
        /// `CLOCK_MONOTONIC`, nanoseconds.
        monotonic_ns: u64,
        /// `CLOCK_BOOTTIME`, nanoseconds.
        boottime_ns: u64,
    }
}

impl Clocks {
    /// Reads and checks a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DumpError> {
        const WHAT: &str = "impossible clock values";
        let c: Clocks = super::exact(payload, WHAT)?;
        // The boot clock is the monotonic one plus time suspended; a
        // century of uptime is impossible (and keeps offsets in range).
        if c.boottime_ns < c.monotonic_ns || c.boottime_ns > 1 << 61 {
            return Err(DumpError::Invalid(WHAT));
        }
        Ok(c)
    }
}
