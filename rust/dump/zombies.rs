// SPDX-License-Identifier: GPL-2.0

//! Children of the process that have exited and wait for its `wait()`.
//! They are not members of the frozen tree (they cannot run again); what
//! is left of them is a pid and a status, which ld-chpox makes again so
//! that the restored parent's `wait()` still finds them.

use crate::abi::dump::{SectionKind, Zombie};
use crate::kernel_ext::task::for_each_zombie_child;
use crate::writer::DumpFile;
use kernel::prelude::*;

pub(super) fn write(out: &mut DumpFile) -> Result {
    // Filled under RCU, where nothing can be allocated: room for the most
    // the format takes, and a count of all.
    let mut zombies = KVec::with_capacity(Zombie::MAX, GFP_KERNEL)?;
    let mut found = 0usize;
    for_each_zombie_child(|z| {
        found += 1;
        if zombies.len() < Zombie::MAX {
            // Within the capacity reserved above: no allocation.
            let _ = zombies.push(
                Zombie {
                    pid: z.pid,
                    status: z.status,
                },
                GFP_ATOMIC,
            );
        }
    });
    if found > Zombie::MAX {
        pr_warn!(
            "{} exited children not waited for: too many to dump\n",
            found
        );
        return Err(E2BIG);
    }
    if zombies.is_empty() {
        return Ok(());
    }
    // The format wants them sorted by pid.
    zombies.sort_unstable_by_key(|z| z.pid);
    out.section(
        SectionKind::Zombies,
        (zombies.len() * Zombie::SIZE) as u64,
        |w, out| {
            for z in zombies.iter() {
                w.put(out, &z.encode());
            }
        },
    );
    Ok(())
}
