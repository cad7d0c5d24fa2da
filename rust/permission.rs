// SPDX-License-Identifier: GPL-2.0

//! Who may checkpoint what, who may remove which registration, and what a
//! restore may be trusted with.

use crate::kernel_ext::cred::{Capability, Credential, RequestFile};
use crate::kernel_ext::ptrace;
use crate::kernel_ext::task::{Task, TaskExt};

/// Whether these credentials hold more than any ordinary user has: a uid of
/// root, or a capability in the initial user namespace.
pub(crate) fn beyond_a_user(cred: &Credential) -> bool {
    cred.uids().contains(&0) || (cred.any_capability() != 0 && cred.in_initial_user_namespace())
}

/// Whether a user with credentials `user`, without privilege, may
/// checkpoint `target`, as ptrace decides for its credentials: the process
/// runs as the very user and group (real, effective and saved ids), is
/// dumpable, and has no capability the user lacks. Asked at registration
/// and again for every process at every checkpoint: an `execve()` of a
/// set-id program changes the answer.
pub(crate) fn may_checkpoint_as_user(user: &Credential, target: &Task) -> bool {
    let owner = target.credential();
    let (uids, gids) = (owner.uids(), owner.gids());
    uids[..3].iter().all(|&u| u == user.euid())
        && gids[..3].iter().all(|&g| g == user.egid())
        && owner.permitted() & !user.permitted() == 0
        && owner.same_user_namespace(user)
        && target.dumpable()
}

/// Whether the opener of `file` holds CAP_CHECKPOINT_RESTORE or
/// CAP_SYS_ADMIN in the initial user namespace: such a registrant may
/// checkpoint any process, at registration and later.
pub(crate) fn privileged(file: &RequestFile<'_>) -> bool {
    file.capable(Capability::CheckpointRestore) || file.capable(Capability::SysAdmin)
}

/// Whether the opener of `file` may checkpoint `target`, numbered `nr` in
/// the caller's pid namespace: with CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN
/// over its user namespace; otherwise if [`may_checkpoint_as_user`] and the
/// kernel's own ptrace-attach check (LSMs and Yama included) agree.
pub(crate) fn may_checkpoint(file: &RequestFile<'_>, target: &Task, nr: i32) -> bool {
    let owner = target.credential();
    if file.capable_over(&owner, Capability::CheckpointRestore)
        || file.capable_over(&owner, Capability::SysAdmin)
    {
        return true;
    }
    may_checkpoint_as_user(file.opener(), target) && ptrace::may_attach(file.opener(), nr)
}

/// Who may remove which registrations: their registrant, or anyone with
/// CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
pub(crate) struct Manager {
    euid: u32,
    privileged: bool,
}

impl Manager {
    /// What the opener of `file` may remove. Decided before the registry
    /// lock is taken: capability checks call into security modules, which
    /// must not run with interrupts off.
    pub(crate) fn of(file: &RequestFile<'_>) -> Self {
        Manager {
            euid: file.opener().euid(),
            privileged: privileged(file),
        }
    }

    pub(crate) fn may_manage(&self, registrant: &Credential) -> bool {
        self.privileged || self.euid == registrant.euid()
    }
}
