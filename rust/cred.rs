// SPDX-License-Identifier: GPL-2.0

//! Credentials, the file a request came through, and who may do what.

use crate::bindings;
use crate::task::TaskRef;
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

/// The open `/proc/chpox` a request came through. Permission is judged by
/// the credentials it was opened with, not by whoever writes to it later, so
/// a privileged program handed such a file cannot be made to act for its
/// opener.
pub(crate) struct OpenFile<'a> {
    file: NonNull<bindings::file>,
    _borrow: PhantomData<&'a bindings::file>,
}

impl OpenFile<'_> {
    /// # Safety
    ///
    /// `file` must be a file the kernel passed to a file operation that is
    /// still running for as long as the result is used.
    pub(crate) unsafe fn new(file: *mut bindings::file) -> Option<Self> {
        Some(OpenFile {
            file: NonNull::new(file)?,
            _borrow: PhantomData,
        })
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

    /// Whether the opener may checkpoint `target`: with
    /// CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, or as the very user and group
    /// the process runs as (real, effective and saved ids) if the process is
    /// dumpable, as ptrace requires.
    pub(crate) fn may_checkpoint(&self, target: &TaskRef) -> bool {
        let owner = target.credentials();
        if self.privileged_over(&owner) {
            return true;
        }
        let me = self.opener();
        let (uids, gids) = owner.ids();
        uids.iter().all(|&u| u == me.euid())
            && gids.iter().all(|&g| g == me.egid())
            && target.dumpable()
    }

    /// What the opener may remove. Decided before the registry lock is
    /// taken: capability checks call into security modules, which must not
    /// run with interrupts off.
    pub(crate) fn manager(&self) -> Manager {
        let init_ns = &raw mut bindings::init_user_ns;
        // SAFETY: the file is alive; the initial user namespace is static.
        let capable = |cap: u32| unsafe {
            bindings::file_ns_capable(self.file.as_ptr(), init_ns, cap as i32)
        };
        Manager {
            euid: self.opener().euid(),
            privileged: capable(bindings::CAP_CHECKPOINT_RESTORE)
                || capable(bindings::CAP_SYS_ADMIN),
        }
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
