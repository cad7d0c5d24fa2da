// SPDX-License-Identifier: GPL-2.0

//! The executable `/proc/self/exe` names: the program's again, not
//! ld-chpox's. Done after the memory is replaced (no mapping of ld-chpox's
//! binary is left, which is what `prctl(PR_SET_MM_EXE_FILE)` insists on
//! too). The file is the one the mappings were made from: ld-chpox has
//! checked it is unchanged since the checkpoint.

use crate::kernel_ext::exe;
use crate::kernel_ext::file::{flags::*, File};
use kernel::prelude::*;

/// Makes the program at `path` the current process's executable. A failure
/// only leaves ld-chpox's there: it is logged, the restore goes on.
pub(super) fn replace(path: &[u8]) {
    if path.is_empty() {
        return;
    }
    // prctl(PR_SET_MM_MAP) asks the same privilege of a process that
    // changes its own executable: otherwise /proc/PID/exe could be made to
    // name any program (and audit or LSMs trust it).
    if !exe::current_may_replace() {
        return;
    }
    let result =
        File::open(path, O_RDONLY | O_LARGEFILE).and_then(|file| exe::replace_current(&file));
    if let Err(e) = result {
        pr_notice!(
            "restore: /proc/self/exe stays ld-chpox's (error {})\n",
            e.to_errno()
        );
    }
}
