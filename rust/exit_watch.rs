// SPDX-License-Identifier: GPL-2.0

//! Drops a registration as its process exits, so that a pid number, once
//! free, can never lead chpox to a stranger.

use crate::kernel_ext::task::Task;
use crate::kernel_ext::tracepoint::{TaskEvent, TaskEventProbe};
use crate::registry::Registry;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Watches `sched_process_exit` for registered processes.
pub(crate) struct ExitWatch {
    _probe: TaskEventProbe<Registry>,
}

impl TaskEvent for Registry {
    fn on_task(&self, task: &Task) {
        self.forget_exiting(task);
    }
}

impl ExitWatch {
    pub(crate) fn start(registry: Arc<Registry>) -> Result<Self> {
        Ok(ExitWatch {
            _probe: TaskEventProbe::attach(kernel::c_str!("sched_process_exit"), registry)?,
        })
    }
}
