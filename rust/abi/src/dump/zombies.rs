// SPDX-License-Identifier: GPL-2.0

//! Children that had exited and were not waited for: a
//! [`SectionKind::Zombies`](super::SectionKind) payload.

use super::{DumpError, Reader};

record! {
    /// A child that has exited and waits for its parent's `wait()`: its pid
    /// and the status `wait()` will report.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Zombie ["zombie"] {
        /// Its pid.
        pid: i32,
        /// The wait status: exit code << 8, or the killing signal (| 0x80 if
        /// it dumped core).
        status: i32,
    }
}

impl Zombie {
    /// Most entries in one section: more unreaped children than this is
    /// a leak, not a state worth restoring.
    pub const MAX: usize = 4096;

    /// The exit code, if it exited; else the signal that killed it.
    pub fn outcome(&self) -> Result<u8, u8> {
        match self.status & 0x7f {
            0 => Ok((self.status >> 8) as u8),
            sig => Err(sig as u8),
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DumpError> {
        let z = Zombie::read(r)?;
        let signal = z.status & 0x7f;
        // Killed by a signal whose default action kills (not SIGCHLD,
        // SIGCONT, the stop signals, SIGURG, SIGWINCH).
        let kills = |s: i32| s <= 64 && !matches!(s, 17..=23 | 28);
        let valid = if signal == 0 {
            z.status & !0xff00 == 0
        } else {
            kills(signal) && z.status & !0xff == 0
        };
        if z.pid <= 0 || z.pid > PID_MAX_LIMIT || !valid {
            return Err(DumpError::Invalid("impossible exited child"));
        }
        Ok(z)
    }
}

/// The largest pid Linux hands out.
const PID_MAX_LIMIT: i32 = 1 << 22;

/// Reads a [`SectionKind::Zombies`](super::SectionKind) payload, checked
/// whole first: at most [`Zombie::MAX`] entries, sorted by pid, each pid
/// once.
pub fn decode_zombies(
    payload: &[u8],
) -> Result<impl Iterator<Item = Zombie> + Clone + '_, DumpError> {
    if payload.len() % Zombie::SIZE != 0 || payload.len() > Zombie::MAX * Zombie::SIZE {
        return Err(DumpError::Invalid("exited-children section of a bad size"));
    }
    let mut check = Reader::new(payload);
    let mut prev = 0;
    for _ in 0..payload.len() / Zombie::SIZE {
        let z = Zombie::decode(&mut check)?;
        if z.pid <= prev {
            return Err(DumpError::Invalid("exited children unsorted or repeated"));
        }
        prev = z.pid;
    }
    let mut r = Reader::new(payload);
    Ok((0..payload.len() / Zombie::SIZE).map_while(move |_| Zombie::decode(&mut r).ok()))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn exited_children_are_checked() {
        let list = |z: &[Zombie]| z.iter().flat_map(|z| z.encode()).collect::<Vec<u8>>();
        let ok = [
            Zombie {
                pid: 7,
                status: 3 << 8,
            },
            Zombie { pid: 9, status: 9 },
            Zombie {
                pid: 12,
                status: 11 | 0x80,
            },
        ];
        let got: Vec<_> = decode_zombies(&list(&ok)).unwrap().collect();
        assert_eq!(got, ok);
        assert_eq!(got[0].outcome(), Ok(3));
        assert_eq!(got[1].outcome(), Err(9));
        assert_eq!(decode_zombies(&[]).unwrap().count(), 0);
        for bad in [
            std::vec![ok[1], ok[0]],
            std::vec![ok[0], ok[0]],
            std::vec![Zombie { pid: 0, status: 0 }],
            std::vec![Zombie {
                pid: 5,
                status: 0x1_0000
            }],
            std::vec![Zombie { pid: 5, status: 65 }],
            std::vec![Zombie { pid: 5, status: 19 }],
            std::vec![Zombie {
                pid: 5,
                status: 9 | 0x100
            }],
        ] {
            assert!(decode_zombies(&list(&bad)).is_err(), "{bad:?}");
        }
        assert!(decode_zombies(&list(&ok)[..12]).is_err(), "cut entry");
        let many: Vec<_> = (1..=Zombie::MAX as i32 + 1)
            .map(|pid| Zombie { pid, status: 0 })
            .collect();
        assert!(decode_zombies(&list(&many)).is_err(), "too many");
    }
}
