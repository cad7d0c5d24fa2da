// SPDX-License-Identifier: GPL-2.0

//! The checksum of every dump section and of the header: XXH64 (seed 0),
//! of which the low 32 bits are stored. Implemented here rather than taken
//! from the kernel so that the module and the tools compute it with the
//! very same code.
//!
//! Why XXH64 and not CRC-32C: the checksum reads every page of a dump
//! twice (once when written, once when restored). XXH64 needs only 64-bit
//! multiplies, adds and rotates, four independent lanes of 8 bytes: faster
//! than a single `crc32` instruction stream on hardware, and under QEMU's
//! TCG, where each `crc32` instruction is a helper that loops over the
//! bits, about 18 times faster (see Documentation/performance.rst). It
//! detects corruption, as a CRC does; neither is a signature.

const P1: u64 = 0x9e37_79b1_85eb_ca87;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const P3: u64 = 0x1656_67b1_9e37_79f9;
const P4: u64 = 0x85eb_ca77_c2b2_ae63;
const P5: u64 = 0x27d4_eb2f_1656_67c5;

/// Bytes consumed by one round of the four lanes.
const STRIPE: usize = 32;

/// One lane's round over an 8-byte word.
fn round(lane: u64, word: u64) -> u64 {
    lane.wrapping_add(word.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

/// Folds a lane into the hash once the input has ended.
fn merge(hash: u64, lane: u64) -> u64 {
    (hash ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4)
}

/// The little-endian word at the start of `b` (callers pass 8 bytes or more).
fn word64(b: &[u8]) -> u64 {
    b.first_chunk().map_or(0, |w| u64::from_le_bytes(*w))
}

/// The little-endian half word at the start of `b` (callers pass 4 or more).
fn word32(b: &[u8]) -> u64 {
    b.first_chunk()
        .map_or(0, |w| u64::from(u32::from_le_bytes(*w)))
}

/// A running checksum.
#[derive(Debug, Clone, Copy)]
pub struct Checksum {
    lanes: [u64; 4],
    /// Bytes added so far (wrapping, as the algorithm defines it).
    total: u64,
    /// The start of an unfinished stripe.
    pending: [u8; STRIPE],
    pending_len: usize,
}

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

impl Checksum {
    /// A checksum of nothing yet.
    pub const fn new() -> Self {
        Checksum {
            lanes: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            total: 0,
            pending: [0; STRIPE],
            pending_len: 0,
        }
    }

    /// Runs the lanes over whole stripes, returns what is left of `bytes`.
    /// The lanes are a local copy so that the compiler keeps them in
    /// registers: in the module, KASAN checks every load and store to
    /// memory, and this loop reads every byte of a dump twice.
    fn stripes<'a>(&mut self, mut bytes: &'a [u8]) -> &'a [u8] {
        let [mut v1, mut v2, mut v3, mut v4] = self.lanes;
        while let Some((s, rest)) = bytes.split_first_chunk::<STRIPE>() {
            let (w1, s) = s.split_at(8);
            let (w2, s) = s.split_at(8);
            let (w3, w4) = s.split_at(8);
            v1 = round(v1, word64(w1));
            v2 = round(v2, word64(w2));
            v3 = round(v3, word64(w3));
            v4 = round(v4, word64(w4));
            bytes = rest;
        }
        self.lanes = [v1, v2, v3, v4];
        bytes
    }

    /// Adds `bytes`. Pieces may be cut anywhere: only an unfinished stripe
    /// at either end is copied.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.total = self.total.wrapping_add(bytes.len() as u64);
        if self.pending_len > 0 {
            let free = &mut self.pending[self.pending_len..];
            let take = free.len().min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            free[..take].copy_from_slice(head);
            self.pending_len += take;
            bytes = rest;
            if self.pending_len < STRIPE {
                return;
            }
            let full = self.pending;
            self.stripes(&full);
            self.pending_len = 0;
        }
        let bytes = self.stripes(bytes);
        self.pending[..bytes.len()].copy_from_slice(bytes);
        self.pending_len = bytes.len();
    }

    /// The full 64-bit XXH64 of everything added.
    fn digest(&self) -> u64 {
        let [v1, v2, v3, v4] = self.lanes;
        let mut h = if self.total >= STRIPE as u64 {
            let h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            self.lanes.iter().fold(h, |h, &v| merge(h, v))
        } else {
            P5
        };
        h = h.wrapping_add(self.total);
        let mut tail = &self.pending[..self.pending_len];
        while tail.len() >= 8 {
            h = (h ^ round(0, word64(tail)))
                .rotate_left(27)
                .wrapping_mul(P1)
                .wrapping_add(P4);
            tail = tail.get(8..).unwrap_or_default();
        }
        if tail.len() >= 4 {
            h = (h ^ word32(tail).wrapping_mul(P1))
                .rotate_left(23)
                .wrapping_mul(P2)
                .wrapping_add(P3);
            tail = tail.get(4..).unwrap_or_default();
        }
        for &b in tail {
            h = (h ^ u64::from(b).wrapping_mul(P5))
                .rotate_left(11)
                .wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }

    /// The checksum of everything added: the low 32 bits of its XXH64.
    pub fn finish(&self) -> u32 {
        self.digest() as u32
    }

    /// The checksum of `bytes`.
    pub fn of(bytes: &[u8]) -> u32 {
        let mut c = Self::new();
        c.update(bytes);
        c.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> [u8; 1000] {
        core::array::from_fn(|i| (i * 131 + i / 7) as u8)
    }

    fn xxh64(bytes: &[u8]) -> u64 {
        let mut c = Checksum::new();
        c.update(bytes);
        c.digest()
    }

    #[test]
    fn known_values() {
        // Computed with the reference implementation (PyPI `xxhash`).
        assert_eq!(xxh64(b""), 0xef46_db37_51d8_e999);
        assert_eq!(xxh64(b"abc"), 0x44bc_2cf5_ad77_0999);
        assert_eq!(xxh64(b"123456789"), 0x8cb8_41db_40e6_ae83);
        assert_eq!(xxh64(&[0u8; 4096]), 0xac86_9b6f_32d8_bbdb);
        let expected: [(usize, u64); 15] = [
            (0, 0xef46db3751d8e999),
            (1, 0xe934a84adb052768),
            (3, 0xa83378d1eb86ec62),
            (4, 0x9882e57ed36c4cfc),
            (7, 0xf0aef407b44730f8),
            (8, 0x6f799d7284a5cbe6),
            (9, 0x0420f411ad72a049),
            (31, 0x3a4bddf524c48530),
            (32, 0xa4d75ab355f13155),
            (33, 0x445a4aaaffe45526),
            (63, 0x3928161314de657a),
            (64, 0x26c01cf9fb1c3888),
            (100, 0xcc9a8fc04f06d4a5),
            (999, 0x3625eb91fc99ddd6),
            (1000, 0x1c1262971afca83e),
        ];
        let d = data();
        for (len, hash) in expected {
            assert_eq!(xxh64(&d[..len]), hash, "length {len}");
        }
        assert_eq!(Checksum::of(b"abc"), 0xad77_0999);
    }

    #[test]
    fn pieces_equal_whole() {
        let d = data();
        let whole = Checksum::of(&d);
        for split in 0..100 {
            for second in [0, 1, 31, 32, 33, 500] {
                let end = (split + second).min(d.len());
                let mut c = Checksum::new();
                c.update(&d[..split]);
                c.update(&d[split..end]);
                c.update(&d[end..]);
                assert_eq!(c.finish(), whole, "split {split} + {second}");
            }
        }
    }
}
