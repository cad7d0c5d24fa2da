// SPDX-License-Identifier: GPL-2.0

//! The CPU state of a process: its general registers, the sleep the
//! kernel would continue, its rseq area. (The FPU state is an XSAVE image
//! taken as it is.)

use super::record::Field;
use super::{DumpError, Reader, USER_END};

record! {
    /// A relative `nanosleep()`/`clock_nanosleep()` the process was in,
    /// which the kernel continues through `restart_syscall`: the restored
    /// process sleeps for the time that was left, as after a signal.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct SleepRestart ["restart"] {
        /// `CLOCK_REALTIME` (0), `CLOCK_MONOTONIC` (1) or `CLOCK_BOOTTIME`
        /// (7).
        clockid: i32,
        pad 4,
        /// Where the call writes the remaining time if interrupted (0:
        /// nowhere).
        rmtp: u64,
        /// Nanoseconds still to sleep at checkpoint time.
        remaining_ns: u64,
    }
}

impl SleepRestart {
    /// `__NR_restart_syscall` of x86_64, in the saved `rax` of a process
    /// that continues such a sleep.
    pub const RESTART_SYSCALL: u64 = 219;

    /// Reads and checks a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DumpError> {
        let s: SleepRestart = super::exact(payload, Self::IMPOSSIBLE)?;
        s.check()?;
        Ok(s)
    }

    const IMPOSSIBLE: &'static str = "impossible sleep to restart";

    /// Checks a sleep read from a file: a clock `clock_nanosleep()` takes,
    /// a user address, a time that cannot overflow.
    pub fn check(&self) -> Result<(), DumpError> {
        if ![0, 1, 7].contains(&self.clockid)
            || self.rmtp >= USER_END
            || self.remaining_ns > 1 << 62
        {
            return Err(DumpError::Invalid(Self::IMPOSSIBLE));
        }
        Ok(())
    }
}

record! {
    /// The area a thread registered with `rseq()`: the kernel keeps its
    /// cpu/node fields up to date and aborts critical sections in it, and
    /// glibc's `sched_getcpu()` reads it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct RseqArea ["rseq"] {
        /// Its user address.
        addr: u64,
        /// Its length as registered.
        len: u32,
        /// The signature abort handlers are preceded by.
        sig: u32,
    }
}

impl RseqArea {
    /// Reads and checks a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DumpError> {
        let a: RseqArea = super::exact(payload, Self::IMPOSSIBLE)?;
        a.check()?;
        Ok(a)
    }

    const IMPOSSIBLE: &'static str = "impossible rseq area";

    /// Checks an area read from a file as `rseq()` itself would (32-byte
    /// aligned, at least the 32 bytes of the original `struct rseq`).
    pub fn check(&self) -> Result<(), DumpError> {
        if self.addr == 0
            || self.addr % 32 != 0
            || !(32..=4096).contains(&self.len)
            || !self
                .addr
                .checked_add(u64::from(self.len))
                .is_some_and(|end| end <= USER_END)
        {
            return Err(DumpError::Invalid(Self::IMPOSSIBLE));
        }
        Ok(())
    }
}

/// General registers in `struct user_regs_struct` order: 27 words, as
/// `PTRACE_GETREGSET NT_PRSTATUS` gives them (`r15 r14 r13 r12 rbp rbx r11
/// r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base
/// gs_base ds es fs gs`). A record of one array field rather than 27 named
/// ones: the kernel hands them over as an array and the restore indexes
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Registers(pub [u64; Registers::COUNT]);

impl Registers {
    /// Number of registers.
    pub const COUNT: usize = 27;
    /// Size of the payload.
    pub const SIZE: usize = <[u64; Self::COUNT]>::SIZE;
    /// Index of `orig_rax`.
    pub const ORIG_RAX: usize = 15;
    /// Index of `rax`.
    pub const RAX: usize = 10;
    /// Index of `rip`.
    pub const RIP: usize = 16;
    /// Index of `cs`.
    pub const CS: usize = 17;
    /// Index of `eflags`.
    pub const EFLAGS: usize = 18;
    /// Index of `rsp`.
    pub const RSP: usize = 19;
    /// Index of `ss`.
    pub const SS: usize = 20;
    /// Index of `fs_base`.
    pub const FS_BASE: usize = 21;
    /// Index of `gs_base`.
    pub const GS_BASE: usize = 22;

    /// The registers as the documentation shows them.
    #[cfg(test)]
    pub(crate) const LAYOUT: super::record::Layout = super::record::Layout {
        name: "registers",
        rows: &[super::record::Row {
            name: "regs",
            ty: "[u64; 27]",
            size: Self::SIZE,
            doc: &[" `struct user_regs_struct`, in its order."],
        }],
    };

    /// The payload.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let mut a = super::record::ArrayOut::new(&mut b);
        self.0.put(&mut |x| a.put(x));
        b
    }

    /// Reads `COUNT` words (as the kernel's regset gives them).
    pub fn read(r: &mut Reader<'_>) -> Result<Registers, DumpError> {
        Ok(Registers(Field::get(r, "register")?))
    }

    /// Reads and checks a payload: user-mode segments, canonical user
    /// addresses for rip and the bases.
    pub fn decode(payload: &[u8]) -> Result<Registers, DumpError> {
        let regs = Registers(super::exact(payload, "register section of the wrong size")?);
        regs.check()?;
        Ok(regs)
    }

    /// Checks registers read from a file: user-mode segments, canonical
    /// user addresses for rip and the bases.
    pub fn check(&self) -> Result<(), DumpError> {
        let regs = self;
        // User code and stack selectors of x86_64 Linux: __USER_CS, __USER_DS.
        if regs.0[Self::CS] != 0x33 || regs.0[Self::SS] != 0x2b {
            return Err(DumpError::Invalid("registers are not of 64-bit user mode"));
        }
        for i in [Self::RIP, Self::FS_BASE, Self::GS_BASE] {
            if regs.0[i] >= USER_END {
                return Err(DumpError::Invalid("register address outside user space"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::PAGE_SIZE;
    use super::*;

    #[test]
    fn sleeps_round_trip() {
        let s = SleepRestart {
            clockid: 1,
            rmtp: 0x7fff_0000,
            remaining_ns: 1_500_000_000,
        };
        assert_eq!(SleepRestart::decode(&s.encode()), Ok(s));
        let bad_clock = SleepRestart { clockid: 3, ..s };
        assert!(SleepRestart::decode(&bad_clock.encode()).is_err());
        let kernel_rmtp = SleepRestart {
            rmtp: 0xffff_8000_0000_0000,
            ..s
        };
        assert!(SleepRestart::decode(&kernel_rmtp.encode()).is_err());
    }

    #[test]
    fn rseq_areas_are_checked() {
        let a = RseqArea {
            addr: 0x7f00_0000_1020,
            len: 32,
            sig: 0x5305_3053,
        };
        assert_eq!(RseqArea::decode(&a.encode()), Ok(a));
        for bad in [
            RseqArea { addr: 0, ..a },
            RseqArea {
                addr: a.addr + 8,
                ..a
            },
            RseqArea { len: 20, ..a },
            RseqArea {
                addr: USER_END - 32,
                len: 64,
                ..a
            },
            // Found by the fuzzer: the end of the area overflowed.
            RseqArea {
                addr: !31,
                len: 32,
                ..a
            },
            RseqArea {
                addr: !(PAGE_SIZE - 1),
                len: 4096,
                ..a
            },
        ] {
            assert!(RseqArea::decode(&bad.encode()).is_err(), "{bad:?}");
        }
        let last = RseqArea {
            addr: USER_END - 32,
            ..a
        };
        assert_eq!(RseqArea::decode(&last.encode()), Ok(last));
    }
}
