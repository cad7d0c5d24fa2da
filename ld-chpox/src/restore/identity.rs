// SPDX-License-Identifier: GPL-2.0

//! Whose rights the restored processes have.
//!
//! A dump is a file its owner could have edited (its checksums are not
//! signatures), so nothing it records is trusted to grant rights: a
//! restored process never has more rights than the dump file's owner.
//!
//! - A dump of root's that only root may write: nothing changes, the
//!   processes run as ld-chpox does. One its group or others may write is
//!   not root's alone: ld-chpox with privileges refuses it.
//! - ld-chpox without CAP_SETUID and CAP_SETGID (a user restoring): the
//!   processes keep the user's ids, as any program the user runs. Any
//!   capability ld-chpox has but the one for pids is given up.
//! - ld-chpox with them (root restoring someone's dump): the processes run
//!   as the owner again, with the uids and gids the dump records and the
//!   owner's groups from the group database; a dump that records a uid that
//!   is not the owner's, or a group the owner is not in, is refused.
//!
//! ld-chpox takes these credentials right after reading the dump (and
//! making the time namespace, which needs CAP_SYS_ADMIN): every file it
//! stats or opens, every socket it binds, every name it unlinks for the
//! dump is done with the rights the restored program will have.

use super::capabilities::{self, bit, Kept, CAP_CHECKPOINT_RESTORE, CAP_SETGID, CAP_SETUID};
use super::Error;
use chpox_abi::dump::{Dump, ProcessInfo, SectionKind};
use nix::libc;
use nix::unistd::{Gid, Uid};
use std::ffi::CString;
use std::fmt;

/// The owner's account in the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) name: String,
    /// The primary group.
    pub(crate) gid: u32,
    /// Every group of the user (`getgrouplist()`, the primary one included).
    pub(crate) groups: Vec<u32>,
}

/// Who owns the dump file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) uid: u32,
    /// The dump file's group.
    pub(crate) file_gid: u32,
    /// The dump file's permission bits.
    pub(crate) mode: u32,
    /// None if the user database does not know the uid.
    pub(crate) account: Option<Account>,
}

impl Owner {
    /// The owner of the open dump file, not looked up yet.
    pub(crate) fn of(file: &std::fs::File) -> Result<Owner, Error> {
        use std::os::unix::fs::MetadataExt;
        let meta = file
            .metadata()
            .map_err(|e| format!("fstat of the dump: {e}"))?;
        Ok(Owner {
            uid: meta.uid(),
            file_gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            account: None,
        })
    }

    /// The owner with their account from the user and group databases.
    pub(crate) fn looked_up(self) -> Result<Owner, Error> {
        let uid = self.uid;
        let user = nix::unistd::User::from_uid(Uid::from_raw(uid))
            .map_err(|e| format!("looking up uid {uid}, the dump's owner: {e}"))?;
        let Some(user) = user else {
            return Ok(self);
        };
        let name = CString::new(user.name.as_bytes())
            .map_err(|_| format!("the name of uid {uid} has a NUL byte"))?;
        let groups = nix::unistd::getgrouplist(&name, user.gid)
            .map_err(|e| format!("looking up the groups of {}: {e}", user.name))?;
        Ok(Owner {
            account: Some(Account {
                gid: user.gid.as_raw(),
                groups: groups.iter().map(|g| g.as_raw()).collect(),
                name: user.name,
            }),
            ..self
        })
    }

    /// Whether only root can have chosen the contents of a dump of root's:
    /// its group and others may not write it. (The module applies the same
    /// rule.)
    fn root_only(&self) -> bool {
        self.uid == 0 && self.mode & 0o022 == 0
    }

    /// Whether the owner has the rights of group `gid`: their primary
    /// group, one of their groups, or the dump file's own group.
    fn in_group(&self, gid: u32) -> bool {
        gid == self.file_gid
            || self
                .account
                .as_ref()
                .is_some_and(|a| a.gid == gid || a.groups.contains(&gid))
    }

    /// The supplementary groups a process of the owner has after a login.
    fn groups(&self) -> Vec<u32> {
        self.account
            .as_ref()
            .map_or_else(Vec::new, |a| a.groups.clone())
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {}", self.uid)?;
        if let Some(a) = &self.account {
            write!(f, " ({})", a.name)?;
        }
        write!(f, ", group {}, mode {:04o}", self.file_gid, self.mode)
    }
}

/// The ids a process of the dump was recorded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) pid: i32,
    /// Real, effective, saved, filesystem.
    pub(crate) uids: [u32; 4],
    /// Likewise.
    pub(crate) gids: [u32; 4],
}

impl From<&ProcessInfo> for Recorded {
    fn from(info: &ProcessInfo) -> Self {
        Recorded {
            pid: info.pid,
            uids: info.uids,
            gids: info.gids,
        }
    }
}

impl Recorded {
    /// The ids of every process of a validated dump, root first.
    pub(crate) fn of(dump: &Dump<'_>) -> Result<Vec<Recorded>, Error> {
        (0..dump.header.processes)
            .map(|p| {
                dump.only(p, SectionKind::Process)
                    .and_then(|s| ProcessInfo::decode(s.payload))
                    .map(|(info, _, _)| Recorded::from(&info))
                    .map_err(Error::from)
            })
            .collect()
    }
}

/// Which of the four ids, for messages.
const WHICH: [&str; 4] = ["real", "effective", "saved", "filesystem"];

/// Why a dump may not be restored by a privileged ld-chpox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A dump of root's that its group or others may write: they could
    /// have chosen what it runs.
    OthersMayWrite { mode: u32 },
    /// Process `pid` records a uid that is not its owner's.
    Uid {
        pid: i32,
        which: &'static str,
        uid: u32,
        owner: u32,
    },
    /// Process `pid` records a group its owner is not in.
    Gid {
        pid: i32,
        which: &'static str,
        gid: u32,
        owner: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::OthersMayWrite { mode } => write!(
                f,
                "the dump file belongs to root but its group or others may write it (mode \
                 {mode:04o}), so they could have chosen what it runs: it is restored with \
                 privileges only if root alone may write it (chmod go-w)"
            ),
            Refusal::Uid {
                pid,
                which,
                uid,
                owner,
            } => write!(
                f,
                "process {pid} is recorded with {which} uid {uid}, but the dump file belongs \
                 to uid {owner}: a dump cannot grant more than its owner's rights"
            ),
            Refusal::Gid {
                pid,
                which,
                gid,
                owner,
            } => write!(
                f,
                "process {pid} is recorded with {which} gid {gid}, a group uid {owner} (the \
                 dump file's owner) is not in: a dump cannot grant more than its owner's rights"
            ),
        }
    }
}

/// What a restore does about credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The dump is root's alone: the processes run as ld-chpox does.
    Unchanged,
    /// ld-chpox cannot change ids: the processes run with its ids, without
    /// capabilities.
    CallersIds,
    /// The processes run with their recorded ids (all the owner's) and the
    /// owner's supplementary `groups`, without capabilities. `gids_vary`:
    /// not every process has the same gids, so each sets its own.
    OwnersIds { groups: Vec<u32>, gids_vary: bool },
}

/// The plan for a dump owned by `owner` whose processes record
/// `recorded`, restored by an ld-chpox that can (`privileged`) or cannot
/// change its uid and gids.
pub(crate) fn decide(
    privileged: bool,
    owner: &Owner,
    recorded: &[Recorded],
) -> Result<Plan, Refusal> {
    if owner.root_only() {
        // Root could have written anything anyway.
        return Ok(Plan::Unchanged);
    }
    if !privileged {
        return Ok(Plan::CallersIds);
    }
    if owner.uid == 0 {
        return Err(Refusal::OthersMayWrite { mode: owner.mode });
    }
    for r in recorded {
        let bad_uid = r.uids.iter().position(|&uid| uid != owner.uid);
        if let Some(i) = bad_uid {
            return Err(Refusal::Uid {
                pid: r.pid,
                which: WHICH[i],
                uid: r.uids[i],
                owner: owner.uid,
            });
        }
        let bad_gid = r.gids.iter().position(|&gid| !owner.in_group(gid));
        if let Some(i) = bad_gid {
            return Err(Refusal::Gid {
                pid: r.pid,
                which: WHICH[i],
                gid: r.gids[i],
                owner: owner.uid,
            });
        }
    }
    let gids_vary = recorded.windows(2).any(|w| w[0].gids != w[1].gids);
    Ok(Plan::OwnersIds {
        groups: owner.groups(),
        gids_vary,
    })
}

/// Whether ld-chpox can take another user's ids.
pub(crate) fn privileged() -> Result<bool, Error> {
    let sets = capabilities::current()?;
    Ok(sets.has_effective(CAP_SETUID) && sets.has_effective(CAP_SETGID))
}

/// The plan for restoring `dump` from `file`, for this ld-chpox.
pub(crate) fn plan(file: &std::fs::File, dump: &Dump<'_>) -> Result<Plan, Error> {
    let privileged = privileged()?;
    let mut owner = Owner::of(file)?;
    if privileged && owner.uid != 0 {
        // Only a switch to the owner needs their groups.
        owner = owner.looked_up()?;
    }
    decide(privileged, &owner, &Recorded::of(dump)?).map_err(Error::from)
}

/// For `ld-chpox --info`: who owns the dump and what a restore by the
/// caller would do.
pub(crate) fn describe(file: &std::fs::File, dump: &Dump<'_>) -> Result<String, Error> {
    let owner = Owner::of(file)?.looked_up()?;
    let recorded = Recorded::of(dump)?;
    let outcome = match decide(privileged()?, &owner, &recorded) {
        Ok(Plan::Unchanged) => "would run the processes with ld-chpox's own credentials".into(),
        Ok(Plan::CallersIds) => {
            "would run the processes with the caller's own uid and gids, without capabilities"
                .into()
        }
        Ok(Plan::OwnersIds { groups, .. }) => {
            let gid = recorded.first().map_or(0, |r| r.gids[1]);
            let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
            format!(
                "would run the processes as the owner again: uid {}, gid {gid}, groups [{}], \
                 without capabilities",
                owner.uid,
                groups.join(" ")
            )
        }
        Err(refusal) => format!("would be refused: {refusal}"),
    };
    Ok(format!(
        "owner: {owner}\nrestore by uid {}: {outcome}\n",
        Uid::effective()
    ))
}

/// What ld-chpox holds while it builds the tree, once it has taken the
/// plan's credentials.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Privileges {
    kept: Kept,
    /// The processes set their own recorded gids.
    own_gids: bool,
}

/// Takes the credentials of `plan` in ld-chpox, whose first process will
/// be `first`; every process forked from now on inherits them.
pub(crate) fn assume(plan: &Plan, first: &Recorded) -> Result<Privileges, Error> {
    match plan {
        Plan::Unchanged => Ok(Privileges {
            kept: Kept::All,
            own_gids: false,
        }),
        Plan::CallersIds => Ok(Privileges {
            kept: Kept::confine(bit(CAP_CHECKPOINT_RESTORE))?,
            own_gids: false,
        }),
        Plan::OwnersIds { groups, gids_vary } => {
            // Only a tree whose processes differ in gids needs CAP_SETGID
            // after the switch: each sets its own once forked.
            let setgid = if *gids_vary { bit(CAP_SETGID) } else { 0 };
            let kept = become_owner(groups, first, bit(CAP_CHECKPOINT_RESTORE) | setgid)?;
            Ok(Privileges {
                kept,
                own_gids: *gids_vary,
            })
        }
    }
}

/// Takes `first`'s recorded ids and the owner's `groups`, keeping the
/// capabilities in `keep` permitted (none effective).
fn become_owner(groups: &[u32], first: &Recorded, keep: u64) -> Result<Kept, Error> {
    let [ruid, euid, suid, _] = first.uids.map(Uid::from_raw);
    let [rgid, egid, sgid, fsgid] = first.gids.map(Gid::from_raw);
    let groups: Vec<Gid> = groups.iter().copied().map(Gid::from_raw).collect();
    // Without it, leaving uid 0 empties the permitted set: CAP_CHECKPOINT_RESTORE
    // would be gone before the tree is forked.
    nix::sys::prctl::set_keepcaps(true).map_err(|e| format!("prctl(PR_SET_KEEPCAPS): {e}"))?;
    nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    set_gids(rgid, egid, sgid, fsgid)?;
    // decide() made every recorded uid the owner's: the filesystem uid
    // follows the effective one.
    nix::unistd::setresuid(ruid, euid, suid).map_err(|e| format!("setresuid({euid}): {e}"))?;
    let kept = Kept::confine(keep)?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| format!("prctl(PR_SET_KEEPCAPS, 0): {e}"))?;
    let now = nix::unistd::getresuid().map_err(|e| format!("getresuid: {e}"))?;
    if (now.real, now.effective, now.saved) != (ruid, euid, suid) {
        return Err(format!("the uids did not change to {euid}").into());
    }
    // Dumpable, ld-chpox and its processes are open to the owner (through
    // /proc, ptrace) once they hold no capability: nothing of the caller's
    // environment may be left for them to read.
    forget_environment()?;
    dumpable()?;
    Ok(kept)
}

/// Overwrites the environment strings ld-chpox was started with (on its
/// stack, where /proc/PID/environ reads them). Nothing reads the
/// environment after the switch.
fn forget_environment() -> Result<(), Error> {
    let stat =
        std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("/proc/self/stat: {e}"))?;
    // The fields after the command name, which may hold anything but ends
    // with the last ')'; env_start and env_end are fields 50 and 51.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let (Some(start), Some(end)) = (field(50), field(51)) else {
        return Err("/proc/self/stat has no environment bounds".into());
    };
    if start < end {
        // SAFETY: [start, end) is the environment block on our own stack,
        // writable; only `environ` points into it, and empty strings are
        // valid entries.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    }
    Ok(())
}

/// setresgid() and setfsgid(), checked.
fn set_gids(rgid: Gid, egid: Gid, sgid: Gid, fsgid: Gid) -> Result<(), Error> {
    nix::unistd::setresgid(rgid, egid, sgid).map_err(|e| format!("setresgid({egid}): {e}"))?;
    nix::unistd::setfsgid(fsgid);
    let now = nix::unistd::getresgid().map_err(|e| format!("getresgid: {e}"))?;
    if (now.real, now.effective, now.saved, current_fsgid()) != (rgid, egid, sgid, fsgid) {
        return Err(format!("the gids did not change to {egid}").into());
    }
    Ok(())
}

/// The filesystem gid: setfsgid() of an invalid id changes nothing and
/// returns it.
fn current_fsgid() -> Gid {
    nix::unistd::setfsgid(Gid::from_raw(u32::MAX))
}

/// A change of ids makes the kernel mark the process non-dumpable, as after
/// running a setuid program. These are the owner's processes: they must be
/// theirs in /proc and can be checkpointed again.
fn dumpable() -> Result<(), Error> {
    nix::sys::prctl::set_dumpable(true)
        .map_err(|e| Error::from(format!("prctl(PR_SET_DUMPABLE): {e}")))
}

impl Privileges {
    /// Runs `clone` with CAP_CHECKPOINT_RESTORE effective, if it is kept,
    /// and makes it ineffective again in the parent and in the child.
    /// Returns what `clone` returned and the error number it left.
    pub(crate) fn with_pid_right(
        &self,
        clone: impl FnOnce() -> libc::c_long,
    ) -> Result<(libc::c_long, std::io::Error), Error> {
        self.kept.raise(CAP_CHECKPOINT_RESTORE)?;
        let ret = clone();
        let error = std::io::Error::last_os_error();
        if let Err(e) = self.kept.lower() {
            if ret == 0 {
                // The child must not go on with the capability effective,
                // nor report as its parent would: it ends, and the tree
                // with it.
                eprintln!("ld-chpox: {e}");
                // Leaves at once, running nothing of ld-chpox.
                super::exit_now(1);
            }
            return Err(e);
        }
        Ok((ret, error))
    }

    /// In a newly forked process: takes its own recorded gids, if the
    /// processes differ in them.
    pub(crate) fn take_gids_of(&self, info: &ProcessInfo) -> Result<(), Error> {
        if !self.own_gids {
            return Ok(());
        }
        let [rgid, egid, sgid, fsgid] = info.gids.map(Gid::from_raw);
        let now = nix::unistd::getresgid().map_err(|e| format!("getresgid: {e}"))?;
        if (now.real, now.effective, now.saved, current_fsgid()) == (rgid, egid, sgid, fsgid) {
            return Ok(());
        }
        self.kept.raise(CAP_SETGID)?;
        let set = set_gids(rgid, egid, sgid, fsgid);
        self.kept.lower()?;
        set?;
        dumpable()
    }

    /// Gives up every capability held for building the tree; in each
    /// process once it has forked its children, and in ld-chpox once it has
    /// forked the root.
    pub(crate) fn give_up(&self) -> Result<(), Error> {
        self.kept.give_up()
    }

    /// Whether [`Privileges::give_up`] takes anything away: then a thread
    /// started while they were kept must give up what it inherited too.
    pub(crate) fn any_to_give_up(&self) -> bool {
        self.kept != Kept::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: u32, file_gid: u32, account: Option<(u32, &[u32])>) -> Owner {
        Owner {
            uid,
            file_gid,
            mode: 0o600,
            account: account.map(|(gid, groups)| Account {
                name: "alice".into(),
                gid,
                groups: groups.to_vec(),
            }),
        }
    }

    fn recorded(pid: i32, uid: u32, gid: u32) -> Recorded {
        Recorded {
            pid,
            uids: [uid; 4],
            gids: [gid; 4],
        }
    }

    const ALICE_GROUPS: &[u32] = &[1000, 27, 100];

    fn alice() -> Owner {
        owner(1000, 1000, Some((1000, ALICE_GROUPS)))
    }

    #[test]
    fn a_user_keeps_their_own_ids() {
        let anything = [recorded(5, 0, 0)];
        assert_eq!(decide(false, &alice(), &anything), Ok(Plan::CallersIds));
    }

    #[test]
    fn roots_dump_changes_nothing() {
        let root = owner(0, 0, Some((0, &[0])));
        for privileged in [false, true] {
            let mixed = [recorded(5, 0, 0), recorded(6, 1000, 1000)];
            assert_eq!(decide(privileged, &root, &mixed), Ok(Plan::Unchanged));
        }
    }

    #[test]
    fn roots_dump_others_may_write_is_not_roots() {
        for mode in [0o620, 0o602, 0o666] {
            let open = Owner {
                mode,
                ..owner(0, 0, Some((0, &[0])))
            };
            let roots_own = [recorded(5, 0, 0)];
            assert_eq!(
                decide(true, &open, &roots_own),
                Err(Refusal::OthersMayWrite { mode })
            );
            assert_eq!(decide(false, &open, &roots_own), Ok(Plan::CallersIds));
        }
        let readable = Owner {
            mode: 0o644,
            ..owner(0, 0, Some((0, &[0])))
        };
        assert_eq!(decide(true, &readable, &[]), Ok(Plan::Unchanged));
    }

    #[test]
    fn root_restores_a_users_dump_as_the_user() {
        let tree = [recorded(5, 1000, 1000), recorded(6, 1000, 1000)];
        assert_eq!(
            decide(true, &alice(), &tree),
            Ok(Plan::OwnersIds {
                groups: ALICE_GROUPS.to_vec(),
                gids_vary: false
            })
        );
    }

    #[test]
    fn a_claimed_uid_is_refused_naming_it() {
        let mut forged = recorded(6, 1000, 1000);
        forged.uids[1] = 0;
        let tree = [recorded(5, 1000, 1000), forged];
        let refusal = decide(true, &alice(), &tree).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Uid {
                pid: 6,
                which: "effective",
                uid: 0,
                owner: 1000
            }
        );
        let text = refusal.to_string();
        assert!(
            text.contains("effective uid 0") && text.contains("uid 1000"),
            "{text}"
        );
    }

    #[test]
    fn another_users_uid_is_refused() {
        let mut other = recorded(5, 1000, 1000);
        other.uids[3] = 1001;
        assert!(matches!(
            decide(true, &alice(), &[other]),
            Err(Refusal::Uid {
                which: "filesystem",
                uid: 1001,
                ..
            })
        ));
    }

    #[test]
    fn gids_must_be_the_owners_groups() {
        // Supplementary group, primary group, the file's group: allowed.
        for gid in [27, 100, 1000] {
            assert!(decide(true, &alice(), &[recorded(5, 1000, gid)]).is_ok());
        }
        let in_file_group = owner(1000, 50, Some((1000, ALICE_GROUPS)));
        assert!(decide(true, &in_file_group, &[recorded(5, 1000, 50)]).is_ok());
        for gid in [0, 50, 1001] {
            assert_eq!(
                decide(true, &alice(), &[recorded(5, 1000, gid)]),
                Err(Refusal::Gid {
                    pid: 5,
                    which: "real",
                    gid,
                    owner: 1000
                })
            );
        }
    }

    #[test]
    fn an_owner_without_account_has_only_the_files_group() {
        let nobody = owner(4242, 4242, None);
        assert_eq!(
            decide(true, &nobody, &[recorded(5, 4242, 4242)]),
            Ok(Plan::OwnersIds {
                groups: vec![],
                gids_vary: false
            })
        );
        assert!(matches!(
            decide(true, &nobody, &[recorded(5, 4242, 100)]),
            Err(Refusal::Gid { gid: 100, .. })
        ));
    }

    #[test]
    fn processes_with_other_gids_set_their_own() {
        let mut saved_other = recorded(6, 1000, 1000);
        saved_other.gids[2] = 27;
        let tree = [recorded(5, 1000, 1000), saved_other];
        assert_eq!(
            decide(true, &alice(), &tree),
            Ok(Plan::OwnersIds {
                groups: ALICE_GROUPS.to_vec(),
                gids_vary: true
            })
        );
    }
}
