// SPDX-License-Identifier: GPL-2.0

//! The clocks that start again from zero with every boot, dumped once for
//! the whole tree.

use crate::abi::dump::{Clocks, SectionKind};
use crate::kernel_ext::bindings;
use crate::writer::DumpFile;

/// Records the clocks that a later boot starts again from zero, as the tree
/// sees them, so that a restore can keep them going (`ld-chpox`).
pub(crate) fn write_clocks(file: &mut DumpFile) {
    let mut clocks = Clocks::default();
    // SAFETY: reads clocks of the current task into the two fields.
    unsafe { bindings::chpox_task_clocks(&mut clocks.monotonic_ns, &mut clocks.boottime_ns) };
    file.section(SectionKind::Clocks, Clocks::SIZE as u64, |w, out| {
        w.put(out, &clocks.encode())
    });
}
