// SPDX-License-Identifier: GPL-2.0

//! Credentials, the file a request came through, and who may do what.

use crate::kernel_ext::bindings;
use crate::kernel_ext::task::TaskRef;
use core::marker::PhantomData;
use core::ptr::NonNull;

/// Owns one reference to a `struct cred`. Credentials are immutable once
/// published, so their fields can be read without locks.
pub(crate) struct Credentials(NonNull<bindings::cred>);

// SAFETY: `struct cred` is immutable after commit and reference counted
// atomically.
unsafe impl Send for Credentials {}
// SAFETY: see `Send`.
unsafe impl Sync for Credentials {}

impl Credentials {
    /// Takes over a counted reference.
    ///
    /// # Safety
    ///
    /// `ptr` must be non-null and carry a reference the caller hands over.
    pub(crate) unsafe fn from_owned(ptr: *const bindings::cred) -> Self {
        // SAFETY: the caller guarantees non-null.
        Credentials(unsafe { NonNull::new_unchecked(ptr.cast_mut()) })
    }

    fn ptr(&self) -> *mut bindings::cred {
        self.0.as_ptr()
    }

    /// The credentials, for kernel calls that borrow them.
    pub(crate) fn as_ptr(&self) -> *const bindings::cred {
        self.0.as_ptr()
    }

    /// Effective uid, as the initial user namespace numbers it.
    pub(crate) fn euid(&self) -> u32 {
        // SAFETY: the reference keeps the immutable credentials alive.
        unsafe { (*self.ptr()).euid.val }
    }

    /// Real, effective and saved user and group ids.
    pub(crate) fn ids(&self) -> ([u32; 3], [u32; 3]) {
        let c = self.ptr();
        // SAFETY: the reference keeps the immutable credentials alive.
        unsafe {
            (
                [(*c).uid.val, (*c).euid.val, (*c).suid.val],
                [(*c).gid.val, (*c).egid.val, (*c).sgid.val],
            )
        }
    }

    /// The current task's subjective credentials.
    pub(crate) fn current() -> Self {
        // SAFETY: the current task's credentials are alive while it runs;
        // `get_current_cred()` is a macro, so the helper takes the reference.
        unsafe { Credentials::from_owned(bindings::chpox_get_cred(bindings::chpox_current_cred())) }
    }

    /// Whether these credentials hold more than any ordinary user has:
    /// a uid of root, or a capability in the initial user namespace.
    pub(crate) fn beyond_a_user(&self) -> bool {
        let c = self.ptr();
        // SAFETY: the reference keeps the immutable credentials alive.
        unsafe {
            let uids = [(*c).uid.val, (*c).euid.val, (*c).suid.val, (*c).fsuid.val];
            let caps = (*c).cap_permitted.val | (*c).cap_effective.val | (*c).cap_ambient.val;
            uids.contains(&0)
                || (caps != 0 && core::ptr::eq((*c).user_ns, &raw mut bindings::init_user_ns))
        }
    }

    /// Permitted capabilities, as bits.
    fn permitted(&self) -> u64 {
        // SAFETY: the reference keeps the immutable credentials alive.
        unsafe { (*self.ptr()).cap_permitted.val }
    }

    /// Whether a user with these credentials, without privilege, may
    /// checkpoint `target`, as ptrace decides for its credentials: the
    /// process runs as the very user and group (real, effective and saved
    /// ids), is dumpable, and has no capability the user lacks. Asked at
    /// registration and again for every process at every checkpoint: an
    /// `execve()` of a set-id program changes the answer.
    pub(crate) fn may_checkpoint_as_user(&self, target: &TaskRef) -> bool {
        let owner = target.credentials();
        let (uids, gids) = owner.ids();
        uids.iter().all(|&u| u == self.euid())
            && gids.iter().all(|&g| g == self.egid())
            && owner.permitted() & !self.permitted() == 0
            && core::ptr::eq(owner.user_ns(), self.user_ns())
            && target.dumpable()
    }

    fn egid(&self) -> u32 {
        // SAFETY: the reference keeps the immutable credentials alive.
        unsafe { (*self.ptr()).egid.val }
    }

    fn user_ns(&self) -> *mut bindings::user_namespace {
        // SAFETY: the reference keeps the credentials, which pin their user
        // namespace, alive.
        unsafe { (*self.ptr()).user_ns }
    }
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference, so the credentials are alive;
        // `chpox_get_cred()` returns them with one more.
        unsafe { Credentials::from_owned(bindings::chpox_get_cred(self.ptr())) }
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { bindings::chpox_put_cred(self.ptr()) }
    }
}

/// Sets the current task's credentials to `cred` until dropped.
pub(crate) struct CredentialsOverride(*const bindings::cred);

impl CredentialsOverride {
    pub(crate) fn new(cred: &Credentials) -> Self {
        // SAFETY: `cred` is alive for the whole override (the caller keeps
        // it); override_creds() takes its own reference.
        CredentialsOverride(unsafe { bindings::override_creds(cred.as_ptr()) })
    }
}

impl Drop for CredentialsOverride {
    fn drop(&mut self) {
        // SAFETY: restores what override_creds() returned.
        unsafe { bindings::revert_creds(self.0) };
    }
}

/// The open `/proc/chpox` a request came through. Permission is judged by
/// the credentials it was opened with, not by whoever writes to it later, so
/// a privileged program handed such a file cannot be made to act for its
/// opener.
pub(crate) struct OpenFile<'a> {
    file: NonNull<bindings::file>,
    _borrow: PhantomData<&'a bindings::file>,
}

impl<'a> OpenFile<'a> {
    /// The opener of `file`, borrowed.
    pub(crate) fn of(file: &'a crate::kernel_ext::file::File) -> Self {
        OpenFile {
            file: NonNull::from(file).cast(),
            _borrow: PhantomData,
        }
    }

    /// The credentials the file was opened with.
    pub(crate) fn opener(&self) -> Credentials {
        // SAFETY: the file is alive during the operation and `f_cred` is set
        // at open and never changes.
        let cred = unsafe { (*self.file.as_ptr()).f_cred };
        // SAFETY: `cred` is alive (the file holds it); `chpox_get_cred()`
        // returns it with one more reference.
        unsafe { Credentials::from_owned(bindings::chpox_get_cred(cred)) }
    }

    /// Whether the opener had `cap` over the user namespace of `owner`.
    fn capable_over(&self, owner: &Credentials, cap: u32) -> bool {
        // SAFETY: the file is alive; `owner` pins its user namespace.
        unsafe { bindings::file_ns_capable(self.file.as_ptr(), owner.user_ns(), cap as i32) }
    }

    fn privileged_over(&self, owner: &Credentials) -> bool {
        self.capable_over(owner, bindings::CAP_CHECKPOINT_RESTORE)
            || self.capable_over(owner, bindings::CAP_SYS_ADMIN)
    }

    /// Whether the opener holds CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in
    /// the initial user namespace: such a registrant may checkpoint any
    /// process, at registration and later.
    pub(crate) fn privileged(&self) -> bool {
        let init_ns = &raw mut bindings::init_user_ns;
        // SAFETY: the file is alive; the initial user namespace is static.
        let capable = |cap: u32| unsafe {
            bindings::file_ns_capable(self.file.as_ptr(), init_ns, cap as i32)
        };
        capable(bindings::CAP_CHECKPOINT_RESTORE) || capable(bindings::CAP_SYS_ADMIN)
    }

    /// Whether the opener may checkpoint `target`, numbered `nr` in the
    /// caller's pid namespace: with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN
    /// over its user namespace; otherwise if
    /// [`Credentials::may_checkpoint_as_user`] and the kernel's own
    /// ptrace-attach check (LSMs and Yama included) agree.
    pub(crate) fn may_checkpoint(&self, target: &TaskRef, nr: i32) -> bool {
        let owner = target.credentials();
        if self.privileged_over(&owner) {
            return true;
        }
        self.opener().may_checkpoint_as_user(target) && self.may_ptrace_attach(nr)
    }

    /// Asks the kernel's ptrace-attach check (`ptrace_may_access()`, not
    /// exported) by opening `/proc/NR/mem` as the opener: its open makes
    /// exactly that check, security modules and Yama's scope included.
    fn may_ptrace_attach(&self, nr: i32) -> bool {
        let mut path = [0u8; 32];
        let mut w = DecimalPath::new(&mut path);
        w.push(b"/proc/");
        w.push_decimal(nr);
        w.push(b"/mem\0");
        let _creds = CredentialsOverride::new(&self.opener());
        // The file, if opened, is closed right away.
        let path = &path[..path.iter().position(|&b| b == 0).unwrap_or(path.len())];
        crate::kernel_ext::file::File::open(path, bindings::O_RDONLY).is_ok()
    }

    /// What the opener may remove. Decided before the registry lock is
    /// taken: capability checks call into security modules, which must not
    /// run with interrupts off.
    pub(crate) fn manager(&self) -> Manager {
        Manager {
            euid: self.opener().euid(),
            privileged: self.privileged(),
        }
    }
}

/// Writes a short NUL-terminated path into a fixed buffer.
struct DecimalPath<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> DecimalPath<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        DecimalPath { buf, len: 0 }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn push_decimal(&mut self, n: i32) {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = n.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

/// Who may remove which registrations: their registrant, or anyone with
/// CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
pub(crate) struct Manager {
    euid: u32,
    privileged: bool,
}

impl Manager {
    pub(crate) fn may_manage(&self, registrant: &Credentials) -> bool {
        self.privileged || self.euid == registrant.euid()
    }
}
