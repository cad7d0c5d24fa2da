// SPDX-License-Identifier: GPL-2.0

//! The clocks that start again from zero with every boot, dumped once for
//! the whole tree.

use crate::abi::dump::{Clocks, SectionKind};
use crate::kernel_ext::system::current_task_clocks;
use crate::writer::DumpFile;

/// Records the clocks that a later boot starts again from zero, as the tree
/// sees them, so that a restore can keep them going (`ld-chpox`).
pub(crate) fn write_clocks(file: &mut DumpFile) {
    let (monotonic_ns, boottime_ns) = current_task_clocks();
    let clocks = Clocks {
        monotonic_ns,
        boottime_ns,
    };
    file.section(SectionKind::Clocks, Clocks::SIZE as u64, |w, out| {
        w.put(out, &clocks.encode())
    });
}
