// SPDX-License-Identifier: GPL-2.0

//! Making the current thread run one system call in user mode for chpox,
//! as a debugger makes its tracee run one: the forked snapshot needs
//! `clone()` and `wait4()` made by the process itself, and the kernel
//! exports neither to modules.
//!
//! [`inject`] saves the thread's user registers and signal mask, blocks
//! every signal (so no handler of the program runs in between), maps a
//! two-page trampoline and points the registers at the `syscall`
//! instruction that ends its first page. Back from the call, the thread
//! executes the second page, which has no page behind it: the fault hands
//! it back to chpox, as task work with the call's result ([`Landing`]),
//! and [`Resume`] gives it its own registers, mask and address space back.
//! A child forked there lands on the same page and waits in the kernel
//! until chpox gives it work; it never runs a user instruction.
//!
//! x86-64 only, and refused where something else sees the thread's system
//! calls (a tracer, seccomp, syscall user dispatch).

use crate::kernel_ext::bindings;
use crate::kernel_ext::errno::EOPNOTSUPP;
use crate::kernel_ext::restart::{
    ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK,
};
use crate::kernel_ext::signal::SiglockGuard;
use crate::kernel_ext::task::TaskExt;
use crate::kernel_ext::task::{self, current_task, kill_current, set_current_blocked, Task};
use crate::kernel_ext::task_work::{self, When};
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::sync::{new_spinlock, Arc, ArcBorrow, SpinLock};
use kernel::types::ARef;

/// x86-64 system call numbers.
const NR_CLONE: u64 = 56;
const NR_WAIT4: u64 = 61;
const NR_RESTART_SYSCALL: u64 = 219;
/// `wait4()` option: any child, clone children (no exit signal) too.
const WALL: u64 = 0x4000_0000;

const SYSCALL_INSN: [u8; 2] = [0x0f, 0x05];
/// What fills the rest of the code page: `int3`.
const INT3: u8 = 0xcc;
/// `mmap()` protections (uapi values).
const PROT_READ: u32 = 0x1;
const PROT_EXEC: u32 = 0x4;
/// The trampoline: the code page, then the landing page.
const TRAMPOLINE_LEN: usize = 2 * PAGE_SIZE;

/// A system call chpox has a thread make.
#[derive(Clone, Copy)]
pub(crate) enum Syscall {
    /// `clone()` with no flags and no exit signal: a copy-on-write copy of
    /// the process that `wait()` without `__WALL`/`__WCLONE` does not see.
    Fork,
    /// `wait4(pid, NULL, __WALL, NULL)`: reaps that child.
    Reap(i32),
}

impl Syscall {
    /// Its number and arguments.
    fn registers(self) -> (u64, [u64; 6]) {
        match self {
            Syscall::Fork => (NR_CLONE, [0; 6]),
            Syscall::Reap(pid) => (NR_WAIT4, [pid as i64 as u64, 0, WALL, 0, 0, 0]),
        }
    }
}

/// What happens once the thread is back from the call.
pub(crate) trait Landing: Send + Sync + Sized + 'static {
    /// Runs in the thread, back from the call that returned `result`
    /// (a child's pid, a negative errno ...), still with every signal
    /// blocked; `resume` gives the thread its own state back when it is
    /// finished or dropped.
    fn landed(this: Arc<Self>, result: i64, resume: Resume);
}

/// What the thread had before it was made to make the call.
struct Saved {
    regs: bindings::pt_regs,
    blocked: u64,
    trampoline: u64,
}

/// One injection, owned by the trampoline's file (and so by the mappings
/// of it, the forked child's included) and by its landing work.
///
/// # Invariants
///
/// Holds a reference to this module from creation to drop.
#[pin_data(PinnedDrop)]
struct Shared<L: Landing> {
    /// The thread made to make the call.
    thread: ARef<Task>,
    call: Syscall,
    landing: Arc<L>,
    code: Page,
    /// Taken by the first landing.
    #[pin]
    saved: SpinLock<Option<Saved>>,
}

#[pinned_drop]
impl<L: Landing> PinnedDrop for Shared<L> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the reference taken in `inject`, by the type invariant.
        unsafe { bindings::module_put(crate::THIS_MODULE.as_ptr()) };
    }
}

/// Whether `t` is the current task.
fn is_current(t: &Task) -> bool {
    // SAFETY: reads the current task pointer only.
    core::ptr::eq(task::raw(t), unsafe { bindings::get_current() })
}

impl<L: Landing> Shared<L> {
    /// A task faulted on the landing page.
    fn land(this: ArcBorrow<'_, Self>) -> bindings::vm_fault_t {
        const NOPAGE: bindings::vm_fault_t = bindings::vm_fault_reason_VM_FAULT_NOPAGE;
        if is_current(&this.thread) {
            // Back from the call. Should the work not be queued (no
            // memory), the thread faults here again and we retry.
            let work = LandingWork {
                shared: this.into(),
            };
            task_work::queue(&current_task(), work, When::Resume, GFP_KERNEL);
            return NOPAGE;
        }
        let me = current_task();
        let forked_here = matches!(this.call, Syscall::Fork) && me.forked_by(&this.thread);
        if forked_here {
            if this.thread.exiting() {
                // Its parent will never give it work.
                kill_current();
            } else {
                // The child waits for its work here, a millisecond a turn.
                task::sleep_ms(1);
            }
            return NOPAGE;
        }
        // Another thread of the program jumped here.
        bindings::vm_fault_reason_VM_FAULT_SIGSEGV
    }
}

/// The landing, as task work in the thread.
struct LandingWork<L: Landing> {
    shared: Arc<Shared<L>>,
}

impl<L: Landing> task_work::Work for LandingWork<L> {
    fn run(self) {
        let Some(saved) = self.shared.saved.lock().take() else {
            return; // a second landing: the first has it
        };
        // SAFETY: the current task's saved user registers.
        let result = unsafe { (*bindings::chpox_current_pt_regs()).ax } as i64;
        let resume = Resume {
            saved,
            _not_send: PhantomData,
        };
        L::landed(self.shared.landing.clone(), result, resume);
    }
}

/// Gives the landed thread back what it had: registers, signal mask, and
/// its address space without the trampoline. Done by [`Resume::finish`] or
/// on drop, in the thread itself.
pub(crate) struct Resume {
    saved: Saved,
    _not_send: PhantomData<*mut ()>,
}

impl Resume {
    pub(crate) fn finish(self) {}
}

impl Drop for Resume {
    fn drop(&mut self) {
        // SAFETY: the current task's saved user registers, which it alone
        // uses while it runs in the kernel; `saved.regs` is what they were.
        unsafe { *bindings::chpox_current_pt_regs() = self.saved.regs };
        // Cannot fail: SIG_SETMASK with a valid set.
        let _ = set_current_blocked(self.saved.blocked);
        // SAFETY: the current task; its rseq critical section, if its
        // registers are in one, is aborted as after a preemption.
        unsafe { bindings::chpox_rseq_preempt(bindings::get_current()) };
        // SAFETY: unmaps the trampoline from the current task's own mm,
        // which it mapped (an unmapped range is no error).
        unsafe { bindings::vm_munmap(self.saved.trampoline as usize, TRAMPOLINE_LEN) };
    }
}

/// Applies to `regs` (saved) the restart the kernel applies when no
/// handler runs, so that they re-execute an interrupted system call.
fn restart_fixup(regs: &mut bindings::pt_regs) {
    if (regs.orig_ax as i64) < 0 {
        return;
    }
    match regs.ax as i64 {
        ERESTART_RESTARTBLOCK => regs.ax = NR_RESTART_SYSCALL as _,
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => regs.ax = regs.orig_ax,
        _ => {
            regs.orig_ax = u64::MAX as _;
            return;
        }
    }
    regs.ip -= SYSCALL_INSN.len() as c_ulong;
    regs.orig_ax = u64::MAX as _;
}

/// The file operations and memory-area operations of trampolines.
struct Ops<L>(PhantomData<L>);

impl<L: Landing> Ops<L> {
    const FILE: bindings::file_operations = bindings::file_operations {
        mmap: Some(trampoline_mmap::<L>),
        release: Some(trampoline_release::<L>),
        // SAFETY: all-zero is "none" for every other operation; the module
        // reference is held by `Shared`.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
    const AREA: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(trampoline_fault::<L>),
        may_split: Some(trampoline_refuse_split),
        mremap: Some(trampoline_refuse_mremap),
        // SAFETY: all-zero is "none" for every other operation.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };
}

/// The `Shared` a trampoline file carries.
///
/// # Safety
///
/// `file` is a live trampoline file of `L`.
unsafe fn shared_of<'a, L: Landing>(file: *mut bindings::file) -> ArcBorrow<'a, Shared<L>> {
    // SAFETY: `private_data` holds the `Arc` that `inject` put there, and
    // `trampoline_release` drops it only when the file goes.
    unsafe { ArcBorrow::from_raw((*file).private_data.cast::<Shared<L>>()) }
}

/// Called by `mmap_region()` for the mapping `inject` makes.
///
/// # Safety
///
/// Called by the kernel only, with a trampoline file of `L` and the area
/// being set up for it, under the mmap lock held for writing.
unsafe extern "C" fn trampoline_mmap<L: Landing>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: the kernel passes our file, live for the call.
    let shared = unsafe { shared_of::<L>(file) };
    // SAFETY: the area being set up, under the mmap lock held for writing.
    unsafe {
        let start = (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_start;
        let end = (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end;
        if end - start != TRAMPOLINE_LEN || (*vma).vm_pgoff != 0 {
            return -(bindings::EINVAL as c_int);
        }
        (*vma).vm_ops = &Ops::<L>::AREA;
        bindings::chpox_vm_flags_set(vma, (bindings::VM_DONTEXPAND | bindings::VM_DONTDUMP) as _);
        bindings::vm_insert_page(vma, start, shared.code.as_ptr())
    }
}

/// Called when the last reference to the file goes.
///
/// # Safety
///
/// Called by the kernel only, once, with a trampoline file of `L`.
unsafe extern "C" fn trampoline_release<L: Landing>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: gives back the reference `inject` put in the file, once.
    drop(unsafe { Arc::from_raw((*file).private_data.cast::<Shared<L>>()) });
    0
}

/// Called for a missing page of a trampoline: the landing page, or the
/// code page if the program dropped it.
///
/// # Safety
///
/// Called by the kernel only, with a fault in a trampoline area of `L`.
unsafe extern "C" fn trampoline_fault<L: Landing>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: the kernel passes a live fault of our area, whose file is
    // held by the area.
    let (pgoff, shared) = unsafe {
        let anon = &(*vmf).__bindgen_anon_1;
        (anon.pgoff, shared_of::<L>((*anon.vma).vm_file))
    };
    if pgoff != 1 {
        return bindings::vm_fault_reason_VM_FAULT_SIGBUS;
    }
    Shared::land(shared)
}

/// A trampoline is not split (partly unmapped or protected).
///
/// # Safety
///
/// Called by the kernel only; touches nothing.
unsafe extern "C" fn trampoline_refuse_split(
    _vma: *mut bindings::vm_area_struct,
    _addr: c_ulong,
) -> c_int {
    -(bindings::EINVAL as c_int)
}

/// A trampoline is not moved.
///
/// # Safety
///
/// Called by the kernel only; touches nothing.
unsafe extern "C" fn trampoline_refuse_mremap(_vma: *mut bindings::vm_area_struct) -> c_int {
    -(bindings::EINVAL as c_int)
}

/// The code page: `int3` everywhere but for the `syscall` at its end.
fn code_page() -> Result<Page> {
    let page = Page::alloc_page(GFP_KERNEL)?;
    let fill = [INT3; 256];
    for at in (0..PAGE_SIZE).step_by(fill.len()) {
        // SAFETY: `fill` has the length written; the page is ours alone.
        unsafe { page.write_raw(fill.as_ptr(), at, fill.len()) }?;
    }
    let at = PAGE_SIZE - SYSCALL_INSN.len();
    // SAFETY: as above.
    unsafe { page.write_raw(SYSCALL_INSN.as_ptr(), at, SYSCALL_INSN.len()) }?;
    Ok(page)
}

/// Whether the current thread can be made to make a call: a 64-bit
/// program whose system calls nothing else sees.
fn injectable() -> bool {
    // SAFETY: reads the current task's own state and saved registers.
    unsafe {
        !bindings::chpox_syscalls_watched()
            && bindings::chpox_user_64bit_mode(bindings::chpox_current_pt_regs())
    }
}

/// Has the current thread make `call` on its way back to user space (from
/// the task work this is called in), then run `landing`. EOPNOTSUPP if it
/// cannot be done for this thread; nothing is changed then.
pub(crate) fn inject<L: Landing>(call: Syscall, landing: Arc<L>) -> Result {
    if !injectable() {
        return Err(EOPNOTSUPP());
    }
    // SAFETY: the current task's saved user registers.
    let mut regs = unsafe { *bindings::chpox_current_pt_regs() };
    restart_fixup(&mut regs);
    let code = code_page()?;
    // SAFETY: `THIS_MODULE` is this module.
    if !unsafe { bindings::chpox_try_module_get(crate::THIS_MODULE.as_ptr()) } {
        return Err(ENODEV);
    }
    // INVARIANT: the module reference was taken just above.
    let shared = Arc::pin_init(
        pin_init!(Shared {
            thread: current_task(),
            call,
            landing,
            code,
            saved <- new_spinlock!(None),
        }),
        GFP_KERNEL,
    )?;
    let data = Arc::into_raw(shared.clone()).cast_mut().cast::<c_void>();
    // SAFETY: `Ops::<L>::FILE` is static; `data` is an `Arc` reference the
    // file owns from now (dropped by its release).
    let file = unsafe {
        bindings::anon_inode_getfile(
            kernel::c_str!("[chpox]").as_char_ptr(),
            &Ops::<L>::FILE,
            data,
            bindings::O_RDONLY as c_int,
        )
    };
    if (file as isize) < 0 && (file as isize) >= -4095 {
        // SAFETY: not taken by a file: still ours.
        drop(unsafe { Arc::from_raw(data.cast::<Shared<L>>()) });
        return Err(Error::from_errno(file as isize as i32));
    }
    let prot = PROT_READ | PROT_EXEC;
    // SAFETY: maps the file into the current task's mm; the mapping takes
    // its own reference to the file, ours is dropped after.
    let addr = unsafe {
        let addr = bindings::vm_mmap(
            file,
            0,
            TRAMPOLINE_LEN,
            prot as _,
            bindings::MAP_SHARED as _,
            0,
        );
        bindings::fput(file);
        addr
    };
    if (addr as isize) < 0 {
        return Err(Error::from_errno(addr as isize as i32));
    }
    let mut saved_mask: bindings::sigset_t = Default::default();
    // SAFETY: the current task's own state.
    let blocked = if unsafe { bindings::chpox_take_saved_sigmask(&mut saved_mask) } {
        saved_mask.sig[0] as u64
    } else {
        SiglockGuard::lock_current().blocked()
    };
    *shared.saved.lock() = Some(Saved {
        regs,
        blocked,
        trampoline: addr as u64,
    });
    if let Err(e) = set_current_blocked(u64::MAX) {
        if let Some(saved) = shared.saved.lock().take() {
            drop(Resume {
                saved,
                _not_send: PhantomData,
            });
        }
        return Err(e);
    }
    let (nr, args) = call.registers();
    // SAFETY: the current task's saved user registers, which it alone uses
    // while in the kernel. `orig_ax` -1: the kernel applies no system call
    // restart to them on the way out (it is in the saved copy).
    unsafe {
        let r = &mut *bindings::chpox_current_pt_regs();
        r.ip = (addr + PAGE_SIZE - SYSCALL_INSN.len()) as _;
        r.ax = nr as _;
        r.orig_ax = u64::MAX as _;
        (r.di, r.si, r.dx, r.r10, r.r8, r.r9) = (
            args[0] as _,
            args[1] as _,
            args[2] as _,
            args[3] as _,
            args[4] as _,
            args[5] as _,
        );
    }
    Ok(())
}
