// SPDX-License-Identifier: GPL-2.0

//! Children of the process that have exited and wait for its `wait()`.
//! They are not members of the frozen tree (they cannot run again); what
//! is left of them is a pid and a status, which ld-chpox makes again so
//! that the restored parent's `wait()` still finds them.

use crate::abi::dump::{SectionKind, Zombie};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;
use kernel::prelude::*;

pub(super) fn write(out: &mut DumpFile) -> Result {
    let mut pids = KVec::from_elem(0i32, Zombie::MAX, GFP_KERNEL)?;
    let mut statuses = KVec::from_elem(0i32, Zombie::MAX, GFP_KERNEL)?;
    // SAFETY: both arrays have room for Zombie::MAX entries.
    let found = unsafe {
        bindings::chpox_zombie_children(
            pids.as_mut_ptr(),
            statuses.as_mut_ptr(),
            Zombie::MAX as u32,
        )
    } as usize;
    if found > Zombie::MAX {
        pr_warn!(
            "{} exited children not waited for: too many to dump\n",
            found
        );
        return Err(E2BIG);
    }
    if found == 0 {
        return Ok(());
    }
    let mut zombies = KVec::with_capacity(found, GFP_KERNEL)?;
    for (&pid, &status) in pids.iter().zip(statuses.iter()).take(found) {
        zombies.push(Zombie { pid, status }, GFP_KERNEL)?;
    }
    // The format wants them sorted by pid.
    zombies.sort_unstable_by_key(|z| z.pid);
    out.section(
        SectionKind::Zombies,
        (found * Zombie::SIZE) as u64,
        |w, out| {
            for z in zombies.iter() {
                w.put(out, &z.encode());
            }
        },
    );
    Ok(())
}
