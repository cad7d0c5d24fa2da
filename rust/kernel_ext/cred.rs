// SPDX-License-Identifier: GPL-2.0

//! Credentials (`struct cred`), acting under other credentials, and the
//! capabilities of the opener of a file.

use crate::kernel_ext::bindings;
use crate::kernel_ext::file::File;
use core::ptr::NonNull;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// A set of credentials.
///
/// # Invariants
///
/// Instances are only reached through `ARef<Credential>` or a borrow of one,
/// so the `struct cred` is alive and, credentials being immutable once
/// published, its fields can be read without locks.
#[repr(transparent)]
pub(crate) struct Credential(Opaque<bindings::cred>);

// SAFETY: `struct cred` is immutable after commit and reference counted
// atomically: it may be used and released from any thread.
unsafe impl Send for Credential {}
// SAFETY: see `Send`.
unsafe impl Sync for Credential {}

// SAFETY: `get_cred()`/`put_cred()` count the references that keep the
// credentials alive, as the type invariant needs.
unsafe impl AlwaysRefCounted for Credential {
    fn inc_ref(&self) {
        // SAFETY: a shared reference means the count is non-zero.
        unsafe { bindings::chpox_get_cred(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one counted reference.
        unsafe { bindings::chpox_put_cred(obj.cast().as_ptr()) };
    }
}

impl Credential {
    /// Takes over a counted reference.
    ///
    /// # Safety
    ///
    /// `ptr` must be non-null and carry a reference the caller hands over.
    pub(super) unsafe fn from_owned(ptr: *const bindings::cred) -> ARef<Self> {
        // INVARIANT: the reference handed over keeps the credentials alive.
        // SAFETY: the caller guarantees non-null and an owned reference.
        unsafe { ARef::from_raw(NonNull::new_unchecked(ptr.cast_mut()).cast()) }
    }

    /// Borrows credentials that something else keeps alive.
    ///
    /// # Safety
    ///
    /// `ptr` must point to credentials alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *const bindings::cred) -> &'a Self {
        // SAFETY: `Credential` is a transparent wrapper; the caller keeps the
        // credentials alive for `'a`.
        unsafe { &*ptr.cast() }
    }

    fn fields(&self) -> &bindings::cred {
        // SAFETY: by the type invariant the credentials are alive and
        // immutable.
        unsafe { &*self.0.get() }
    }

    /// The current task's subjective credentials.
    pub(crate) fn current() -> ARef<Self> {
        // SAFETY: the current task's credentials are alive while it runs;
        // the reference taken here is the one handed over.
        unsafe { Self::from_owned(bindings::chpox_get_cred(bindings::chpox_current_cred())) }
    }

    /// Effective uid, as the initial user namespace numbers it.
    pub(crate) fn euid(&self) -> u32 {
        self.fields().euid.val
    }

    /// Effective gid.
    pub(crate) fn egid(&self) -> u32 {
        self.fields().egid.val
    }

    /// Real, effective, saved and file-system user ids.
    pub(crate) fn uids(&self) -> [u32; 4] {
        let c = self.fields();
        [c.uid.val, c.euid.val, c.suid.val, c.fsuid.val]
    }

    /// Real, effective, saved and file-system group ids.
    pub(crate) fn gids(&self) -> [u32; 4] {
        let c = self.fields();
        [c.gid.val, c.egid.val, c.sgid.val, c.fsgid.val]
    }

    /// Permitted capabilities, as bits.
    pub(crate) fn permitted(&self) -> u64 {
        self.fields().cap_permitted.val
    }

    /// Permitted, effective and ambient capabilities together, as bits.
    pub(crate) fn any_capability(&self) -> u64 {
        let c = self.fields();
        c.cap_permitted.val | c.cap_effective.val | c.cap_ambient.val
    }

    /// Whether their user namespace is the initial one.
    pub(crate) fn in_initial_user_namespace(&self) -> bool {
        core::ptr::eq(self.fields().user_ns, &raw mut bindings::init_user_ns)
    }

    /// Whether both belong to the same user namespace.
    pub(crate) fn same_user_namespace(&self, other: &Credential) -> bool {
        core::ptr::eq(self.fields().user_ns, other.fields().user_ns)
    }

    fn user_namespace(&self) -> *mut bindings::user_namespace {
        self.fields().user_ns
    }
}

/// Makes `cred` the current task's subjective credentials until dropped.
///
/// # Invariants
///
/// `old` is what `override_creds()` returned, to be given back once.
pub(crate) struct CredentialOverride<'a> {
    old: *const bindings::cred,
    _cred: &'a Credential,
}

impl<'a> CredentialOverride<'a> {
    pub(crate) fn new(cred: &'a Credential) -> Self {
        // SAFETY: `cred` is alive for the whole override (borrowed);
        // override_creds() takes its own reference.
        let old = unsafe { bindings::override_creds(cred.0.get()) };
        // INVARIANT: `old` is what override_creds() returned.
        CredentialOverride { old, _cred: cred }
    }
}

impl Drop for CredentialOverride<'_> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant, restores what override_creds()
        // returned.
        unsafe { bindings::revert_creds(self.old) };
    }
}

/// The file a request came through (`/proc/chpox`), for as long as the
/// file operation runs: what its opener may do.
///
/// Permission is judged by the credentials it was opened with, not by
/// whoever writes to it later, so a privileged program handed such a file
/// cannot be made to act for its opener.
pub(crate) struct RequestFile<'a> {
    file: &'a File,
}

impl<'a> RequestFile<'a> {
    /// The request file `file`, borrowed for the file operation.
    pub(crate) fn of(file: &'a File) -> Self {
        RequestFile { file }
    }

    /// The credentials the file was opened with.
    pub(crate) fn opener(&self) -> &'a Credential {
        // SAFETY: the file is borrowed for `'a`; `f_cred` is set at open
        // and never changes, and the file holds it.
        unsafe { Credential::from_raw((*self.file.as_ptr()).f_cred) }
    }

    /// Whether the opener had `cap` over the user namespace of `owner`.
    pub(crate) fn capable_over(&self, owner: &Credential, cap: Capability) -> bool {
        // SAFETY: the file is alive; `owner` pins its user namespace.
        unsafe { bindings::file_ns_capable(self.file.as_ptr(), owner.user_namespace(), cap as i32) }
    }

    /// Whether the opener had `cap` in the initial user namespace.
    pub(crate) fn capable(&self, cap: Capability) -> bool {
        // SAFETY: the file is alive; the initial user namespace is static.
        unsafe {
            bindings::file_ns_capable(
                self.file.as_ptr(),
                &raw mut bindings::init_user_ns,
                cap as i32,
            )
        }
    }
}

/// The capabilities chpox asks about.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Capability {
    CheckpointRestore = bindings::CAP_CHECKPOINT_RESTORE,
    SysAdmin = bindings::CAP_SYS_ADMIN,
}
