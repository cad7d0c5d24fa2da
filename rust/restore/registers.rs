// SPDX-License-Identifier: GPL-2.0

//! Installing the dumped general registers and fs base in the current
//! task's saved user registers, so that the `write()` returns into the
//! restored program. (The FPU state is already loaded: ld-chpox restored
//! it with XRSTOR just before the `write()`, and the kernel preserves user
//! FPU state across system calls.)

use crate::abi::dump::Registers;
use crate::kernel_ext::bindings;

/// The flags user code may set, as `rt_sigreturn` allows: CF PF AF ZF SF TF
/// DF OF RF AC.
const USER_FLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000;

/// Installs `regs`; returns the restored `rax`, which becomes the return
/// value of the `write()` (the system call exit path stores it there).
pub(super) fn install(regs: &Registers) -> isize {
    let r = &regs.0;
    // SAFETY: current's saved user registers, ours to change as signal
    // return does; the segment selectors keep their user values.
    unsafe {
        let p = &mut *bindings::chpox_current_pt_regs();
        p.r15 = r[0] as _;
        p.r14 = r[1] as _;
        p.r13 = r[2] as _;
        p.r12 = r[3] as _;
        p.bp = r[4] as _;
        p.bx = r[5] as _;
        p.r11 = r[6] as _;
        p.r10 = r[7] as _;
        p.r9 = r[8] as _;
        p.r8 = r[9] as _;
        p.ax = r[10] as _;
        p.cx = r[11] as _;
        p.dx = r[12] as _;
        p.si = r[13] as _;
        p.di = r[14] as _;
        // Not in a system call any more: no restart on the way out.
        p.orig_ax = usize::MAX as _;
        p.ip = r[Registers::RIP] as _;
        p.flags = ((p.flags as u64 & !USER_FLAGS) | (r[Registers::EFLAGS] & USER_FLAGS)) as _;
        p.sp = r[Registers::RSP] as _;
        bindings::chpox_set_fs_base(r[Registers::FS_BASE] as _);
    }
    r[Registers::RAX] as isize
}
