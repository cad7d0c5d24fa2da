// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the checksum of every dump section. Implemented here
//! rather than taken from the kernel so that the module and the tools compute
//! it with the very same code.

const POLY: u32 = 0x82f6_3b78; // reflected 0x1EDC6F41

const fn make_table() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static TABLE: [[u32; 256]; 8] = make_table();

/// A running CRC-32C.
#[derive(Debug, Clone, Copy)]
pub struct Crc32c(u32);

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32c {
    /// A checksum of nothing yet.
    pub const fn new() -> Self {
        Crc32c(!0)
    }

    /// Adds `bytes`: with the CPU's `crc32` instruction where it has one
    /// (SSE 4.2: several GiB a second natively, and a single helper call
    /// per 8 bytes under QEMU's TCG), else by table.
    pub fn update(&mut self, bytes: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        if hardware::available() {
            self.0 = hardware::update(self.0, bytes);
            return;
        }
        self.update_by_table(bytes);
    }

    /// Slicing-by-8: several hundred MiB a second natively.
    fn update_by_table(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for b in &mut chunks {
            let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            c = TABLE[7][(lo & 0xff) as usize]
                ^ TABLE[6][((lo >> 8) & 0xff) as usize]
                ^ TABLE[5][((lo >> 16) & 0xff) as usize]
                ^ TABLE[4][(lo >> 24) as usize]
                ^ TABLE[3][b[4] as usize]
                ^ TABLE[2][b[5] as usize]
                ^ TABLE[1][b[6] as usize]
                ^ TABLE[0][b[7] as usize];
        }
        for &b in chunks.remainder() {
            c = (c >> 8) ^ TABLE[0][((c ^ b as u32) & 0xff) as usize];
        }
        self.0 = c;
    }

    /// The checksum of everything added.
    pub fn finish(&self) -> u32 {
        !self.0
    }

    /// The checksum of `bytes`.
    pub fn of(bytes: &[u8]) -> u32 {
        let mut c = Self::new();
        c.update(bytes);
        c.finish()
    }
}

/// The `crc32` instruction of SSE 4.2, which computes CRC-32C. It uses
/// general registers only, so the kernel may run it without saving the
/// FPU state.
#[cfg(target_arch = "x86_64")]
mod hardware {
    use core::arch::asm;
    use core::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const ABSENT: u8 = 1;
    const PRESENT: u8 = 2;
    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Whether this CPU has the instruction (CPUID leaf 1, ECX bit 20),
    /// asked once.
    pub(super) fn available() -> bool {
        match STATE.load(Ordering::Relaxed) {
            PRESENT => true,
            ABSENT => false,
            _ => {
                // Safe to call since Rust 1.89; `unsafe` for older compilers.
                #[allow(unused_unsafe)]
                // SAFETY: CPUID exists on every x86_64 CPU and only reads
                // identification registers.
                let ecx = unsafe { core::arch::x86_64::__cpuid(1) }.ecx;
                let present = ecx & (1 << 20) != 0;
                STATE.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
                present
            }
        }
    }

    /// `crc` (not yet inverted) updated with `bytes`. Only called once
    /// [`available`] said so.
    pub(super) fn update(crc: u32, bytes: &[u8]) -> u32 {
        let mut c = u64::from(crc);
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            // SAFETY: the CPU has SSE 4.2 (checked by the caller); the
            // instruction reads and writes the two registers only.
            unsafe {
                asm!("crc32 {c}, {v}", c = inout(reg) c, v = in(reg) v, options(pure, nomem, nostack))
            };
        }
        let mut c = c as u32;
        for &b in words.remainder() {
            // SAFETY: as above, with the byte form of the instruction.
            unsafe {
                asm!("crc32 {c:e}, {b}", c = inout(reg) c, b = in(reg_byte) b, options(pure, nomem, nostack))
            };
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // RFC 3720, B.4.
        assert_eq!(Crc32c::of(b"123456789"), 0xe306_9283);
        assert_eq!(Crc32c::of(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(Crc32c::of(&[0xffu8; 32]), 0x62a8_ab43);
        assert_eq!(Crc32c::of(b""), 0);
    }

    #[test]
    fn instruction_equals_table() {
        let data: [u8; 1000] = core::array::from_fn(|i| (i * 131 + i / 7) as u8);
        for len in [0, 1, 7, 8, 9, 63, 64, 999, 1000] {
            let mut table = Crc32c::new();
            table.update_by_table(&data[..len]);
            #[cfg(target_arch = "x86_64")]
            if hardware::available() {
                let c = hardware::update(Crc32c::new().0, &data[..len]);
                assert_eq!(c, table.0, "length {len}");
            }
            assert_eq!(Crc32c::of(&data[..len]), table.finish());
        }
    }

    #[test]
    fn incremental_equals_whole() {
        let data: [u8; 100] = core::array::from_fn(|i| (i * 7) as u8);
        for split in 0..data.len() {
            let mut c = Crc32c::new();
            c.update(&data[..split]);
            c.update(&data[split..]);
            assert_eq!(c.finish(), Crc32c::of(&data));
        }
    }
}
