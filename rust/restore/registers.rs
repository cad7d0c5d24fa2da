// SPDX-License-Identifier: GPL-2.0

//! Installing the dumped general registers and fs base in the current
//! task's saved user registers, so that the `write()` returns into the
//! restored program. (The FPU state is already loaded: ld-chpox restored
//! it with XRSTOR just before the `write()`, and the kernel preserves user
//! FPU state across system calls.)

use crate::abi::dump::Registers;
use crate::kernel_ext::regs::{self, UserRegisters};

/// Installs `regs`; returns the restored `rax`, which becomes the return
/// value of the `write()` (the system call exit path stores it there).
pub(super) fn install(regs: &Registers) -> isize {
    let r = &regs.0;
    regs::set_current(&UserRegisters {
        r15: r[0],
        r14: r[1],
        r13: r[2],
        r12: r[3],
        bp: r[4],
        bx: r[5],
        r11: r[6],
        r10: r[7],
        r9: r[8],
        r8: r[9],
        ax: r[10],
        cx: r[11],
        dx: r[12],
        si: r[13],
        di: r[14],
        ip: r[Registers::RIP],
        flags: r[Registers::EFLAGS],
        sp: r[Registers::RSP],
        fs_base: r[Registers::FS_BASE],
    });
    r[Registers::RAX] as isize
}
