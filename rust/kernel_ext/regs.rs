// SPDX-License-Identifier: GPL-2.0

//! The current task's user registers: read through the regsets core dumps
//! use (so in the user ABI format), written into its saved user registers
//! (`pt_regs`) as signal return does. Also its fs base and rseq area.

use crate::kernel_ext::bindings;
use kernel::prelude::*;

/// ELF note types of the regsets chpox reads.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Regset {
    /// General registers, `struct user_regs_struct`.
    General = 1,
    /// The XSAVE area: FPU, SSE, AVX ...
    Xstate = 0x202,
}

/// A regset's content of the current task, allocated by
/// `regset_get_alloc()`.
///
/// # Invariants
///
/// `data` is a kmalloc'd buffer of `len` bytes, owned until `drop`.
pub(crate) struct RegsetData {
    data: *mut u8,
    len: usize,
}

impl RegsetData {
    /// Reads regset `which` of the current task.
    pub(crate) fn read_current(which: Regset) -> Result<Self> {
        // SAFETY: the current task is alive.
        let task = unsafe { bindings::get_current() };
        // SAFETY: current's regset view is static.
        let view = unsafe { &*bindings::task_user_regset_view(task) };
        for i in 0..view.n as usize {
            // SAFETY: `regsets` has `n` entries.
            let regset = unsafe { &*view.regsets.add(i) };
            if regset.core_note_type != which as u32 {
                continue;
            }
            let size = regset.n * regset.size;
            let mut data: *mut core::ffi::c_void = core::ptr::null_mut();
            // SAFETY: reading the current task's own registers, as core
            // dumps do; on success `data` is a kmalloc'd buffer of `len`.
            let len = unsafe { bindings::regset_get_alloc(task, regset, size, &mut data) };
            if len < 0 {
                return Err(Error::from_errno(len));
            }
            // INVARIANT: see the SAFETY comment above.
            return Ok(RegsetData {
                data: data.cast(),
                len: len as usize,
            });
        }
        Err(ENODEV)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: by the type invariant `data` holds `len` bytes.
        unsafe { core::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for RegsetData {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, allocated by regset_get_alloc().
        unsafe { bindings::kfree(self.data.cast()) };
    }
}

/// The general registers a restored task returns to user space with.
pub(crate) struct UserRegisters {
    pub(crate) r15: u64,
    pub(crate) r14: u64,
    pub(crate) r13: u64,
    pub(crate) r12: u64,
    pub(crate) bp: u64,
    pub(crate) bx: u64,
    pub(crate) r11: u64,
    pub(crate) r10: u64,
    pub(crate) r9: u64,
    pub(crate) r8: u64,
    pub(crate) ax: u64,
    pub(crate) cx: u64,
    pub(crate) dx: u64,
    pub(crate) si: u64,
    pub(crate) di: u64,
    pub(crate) ip: u64,
    /// Only the flags user code may set are taken (see [`USER_FLAGS`]).
    pub(crate) flags: u64,
    pub(crate) sp: u64,
    pub(crate) fs_base: u64,
}

/// The flags user code may set, as `rt_sigreturn` allows: CF PF AF ZF SF
/// TF DF OF RF AC.
pub(crate) const USER_FLAGS: u64 =
    0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000;

/// Makes `r` the registers the current task returns to user space with, as
/// signal return does: segment selectors keep their user values, flags
/// beyond [`USER_FLAGS`] keep theirs, and no system call restart happens
/// on the way out.
pub(crate) fn set_current(r: &UserRegisters) {
    // SAFETY: current's saved user registers, which only it uses while it
    // runs in the kernel.
    let p = unsafe { &mut *bindings::chpox_current_pt_regs() };
    p.r15 = r.r15 as _;
    p.r14 = r.r14 as _;
    p.r13 = r.r13 as _;
    p.r12 = r.r12 as _;
    p.bp = r.bp as _;
    p.bx = r.bx as _;
    p.r11 = r.r11 as _;
    p.r10 = r.r10 as _;
    p.r9 = r.r9 as _;
    p.r8 = r.r8 as _;
    p.ax = r.ax as _;
    p.cx = r.cx as _;
    p.dx = r.dx as _;
    p.si = r.si as _;
    p.di = r.di as _;
    p.orig_ax = usize::MAX as _;
    p.ip = r.ip as _;
    p.flags = ((p.flags as u64 & !USER_FLAGS) | (r.flags & USER_FLAGS)) as _;
    p.sp = r.sp as _;
    set_current_fs_base(r.fs_base);
}

/// What `arch_prctl(ARCH_SET_FS)` does for the current task.
fn set_current_fs_base(fs_base: u64) {
    // SAFETY: current's own fs base, set as arch_prctl() sets it, with
    // preemption off so that the CPU and the saved value agree.
    unsafe {
        bindings::chpox_preempt_disable();
        bindings::chpox_loadsegment_fs_zero();
        bindings::chpox_x86_fsbase_write_cpu(fs_base as _);
        let thread = &raw mut (*bindings::get_current()).thread;
        (*thread).fsbase = fs_base as _;
        (*thread).fsindex = 0;
        bindings::chpox_preempt_enable();
    }
}

/// The current task's registered rseq area: address, length, signature.
pub(crate) fn current_rseq() -> Option<(u64, u32, u32)> {
    #[cfg(CONFIG_RSEQ)]
    {
        // SAFETY: the current task's own fields, which only it changes.
        let (addr, len, sig) = unsafe {
            let task = bindings::get_current();
            ((*task).rseq as u64, (*task).rseq_len, (*task).rseq_sig)
        };
        (addr != 0).then_some((addr, len, sig))
    }
    #[cfg(not(CONFIG_RSEQ))]
    None
}

/// Sets the current task's rseq area as `rseq()` registers one, to be
/// filled in on the way back to user space; address 0 drops it. The checks
/// `rseq()` makes of its arguments are the caller's.
pub(crate) fn set_current_rseq(addr: u64, len: u32, sig: u32) -> Result {
    #[cfg(CONFIG_RSEQ)]
    {
        // SAFETY: the current task's own fields, which only it uses.
        unsafe {
            let task = bindings::get_current();
            (*task).rseq = addr as usize as *mut bindings::rseq;
            (*task).rseq_len = len;
            (*task).rseq_sig = sig;
            if addr != 0 {
                bindings::chpox_rseq_set_notify_resume(task);
            }
        }
        Ok(())
    }
    #[cfg(not(CONFIG_RSEQ))]
    {
        let _ = (addr, len, sig);
        Err(crate::kernel_ext::errno::EOPNOTSUPP())
    }
}
