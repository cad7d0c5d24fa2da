// SPDX-License-Identifier: GPL-2.0

//! What the current thread has of its own: general registers (with fs/gs
//! base) and the FPU/SSE/AVX state, read through the regsets core dumps
//! use, so in the user ABI format; the call it was in; its mask, alternate
//! stack and signals; its rseq area, exit words and name.

use super::signals::read_queued;
use crate::abi::dump::{
    thread_flags, Reader, Registers, RseqArea, SectionKind, SleepRestart, ThreadInfo,
    ROBUST_LIST_HEAD_SIZE,
};
use crate::kernel_ext::regs::{current_rseq, Regset, RegsetData};
use crate::kernel_ext::restart::{
    self, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK,
};
use crate::kernel_ext::task::{current_comm, current_exit_words, current_ids};
use crate::writer::DumpFile;
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

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

/// Writes the current thread's section.
pub(super) fn write(out: &mut DumpFile) -> Result {
    let general = RegsetData::read_current(Regset::General)?;
    let bytes = general.bytes();
    if bytes.len() != Registers::COUNT * 8 {
        return Err(EINVAL);
    }
    let mut regs = Registers::read(&mut Reader::new(bytes)).map_err(|_| EINVAL)?;
    let sleep = restart_fixup(&mut regs);
    let rseq = current_rseq().map(|(addr, len, sig)| RseqArea { addr, len, sig });
    let (clear_child_tid, robust_list) = current_exit_words();
    let ((blocked, altstack, pending), queued) = read_queued(false, |siglock| {
        (siglock.blocked(), siglock.altstack(), siglock.pending().0)
    })?;
    let mut flags = 0;
    if rseq.is_some() {
        flags |= thread_flags::RSEQ;
    }
    if sleep.is_some() {
        flags |= thread_flags::SLEEP;
    }
    let info = ThreadInfo {
        tid: current_ids().tid,
        flags,
        clear_child_tid,
        robust_list,
        // set_robust_list() takes no other length: the kernel keeps none.
        robust_list_len: if robust_list != 0 {
            ROBUST_LIST_HEAD_SIZE
        } else {
            0
        },
        comm: current_comm(),
        blocked,
        altstack,
        pending,
        rseq: rseq.unwrap_or_default(),
        sleep: sleep.unwrap_or_default(),
        regs: regs.0,
    };
    let xstate = RegsetData::read_current(Regset::Xstate)?;
    let xstate = xstate.bytes();
    out.section(
        SectionKind::Thread,
        ThreadInfo::payload_len(queued.len(), xstate.len()),
        |w, out| info.encode(&queued, xstate, &mut |b| w.put(out, b)),
    );
    Ok(())
}
