// SPDX-License-Identifier: GPL-2.0

//! General registers (with fs/gs base) and the FPU/SSE/AVX state, read
//! through the regsets core dumps use, so in the user ABI format.

use crate::abi::dump::{Reader, Registers, RseqArea, SectionKind, SleepRestart};
use crate::kernel_ext::regs::{current_rseq, Regset, RegsetData};
use crate::kernel_ext::restart;
use crate::writer::DumpFile;
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

/// `-ERESTART*` values a system call interrupted by our task work returns.
const ERESTARTSYS: i64 = -512;
const ERESTARTNOINTR: i64 = -513;
const ERESTARTNOHAND: i64 = -514;
const ERESTART_RESTARTBLOCK: i64 = -516;

/// Applies to the saved copy the restart the kernel applies to the live
/// process when no handler runs: re-execute the interrupted system call,
/// or, for a sleep restarted through `restart_syscall`, continue it (the
/// returned sleep). Other calls restarted that way (futex waits with a
/// timeout, poll) re-execute with their original arguments, which their
/// callers' loops tolerate as they do spurious wake-ups.
///
/// A process that was stopped (SIGSTOP) in such a call and then continued
/// reaches the checkpoint with the restart already applied: `rax` is
/// `__NR_restart_syscall` and `rip` is back on the `syscall` instruction.
fn restart_fixup(regs: &mut Registers) -> Option<SleepRestart> {
    let r = &mut regs.0;
    if (r[Registers::ORIG_RAX] as i64) < 0 {
        return None;
    }
    let sleep = match r[Registers::RAX] as i64 {
        ERESTART_RESTARTBLOCK => {
            r[Registers::RIP] -= 2; // back over the two-byte `syscall`
            restart::saved_sleep()
        }
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
            r[Registers::RIP] -= 2;
            None
        }
        n if n as u64 == SleepRestart::RESTART_SYSCALL && at_syscall(r[Registers::RIP]) => {
            restart::saved_sleep()
        }
        _ => return None,
    };
    r[Registers::RAX] = match sleep {
        Some(_) => SleepRestart::RESTART_SYSCALL,
        None => r[Registers::ORIG_RAX],
    };
    sleep
}

/// Whether the user instruction at `ip` is `syscall` (0f 05): a call that
/// completed has its `rip` after it, a pending restart on it.
fn at_syscall(ip: u64) -> bool {
    let mut insn = [0u8; 2];
    UserSlice::new(ip as usize, 2)
        .reader()
        .read_slice(&mut insn)
        .is_ok()
        && insn == [0x0f, 0x05]
}

pub(super) fn write(out: &mut DumpFile) -> Result {
    let general = RegsetData::read_current(Regset::General)?;
    let bytes = general.bytes();
    if bytes.len() != Registers::COUNT * 8 {
        return Err(EINVAL);
    }
    let mut regs = Registers::read(&mut Reader::new(bytes)).map_err(|_| EINVAL)?;
    let sleep = restart_fixup(&mut regs);
    out.section(
        SectionKind::Registers,
        (Registers::COUNT * 8) as u64,
        |w, out| w.put(out, &regs.encode()),
    );
    if let Some(sleep) = sleep {
        out.section(SectionKind::Restart, SleepRestart::SIZE as u64, |w, out| {
            w.put(out, &sleep.encode())
        });
    }
    if let Some((addr, len, sig)) = current_rseq() {
        let rseq = RseqArea { addr, len, sig };
        out.section(SectionKind::Rseq, RseqArea::SIZE as u64, |w, out| {
            w.put(out, &rseq.encode())
        });
    }

    let xstate = RegsetData::read_current(Regset::Xstate)?;
    let bytes = xstate.bytes();
    out.section(SectionKind::Fpu, bytes.len() as u64, |w, out| {
        w.put(out, bytes)
    });
    Ok(())
}
