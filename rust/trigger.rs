// SPDX-License-Identifier: GPL-2.0

//! Catching the trigger signal. Every signal sent in the system passes the
//! [`SendSignalProbe`]; when it is a registered process's trigger, sent by
//! a process (`kill`, `sigqueue`, `tgkill`), the checkpoint is queued as
//! task work on the target and the signal is swallowed: it never exists
//! for the application, not even a default action that would kill it.
//! Signals the kernel itself sends (faults, timers, the terminal) always
//! reach the application. See `Documentation/design.rst`.

use crate::checkpoint;
use crate::kernel_ext::signal_probe::{SendSignalProbe, Sender, SignalFilter};
use crate::kernel_ext::task::Task;
use crate::registry::{Claim, Registry};
use kernel::prelude::*;
use kernel::sync::Arc;

/// The trigger signals of the registry's processes.
struct TriggerSignals(Arc<Registry>);

impl SignalFilter for TriggerSignals {
    fn swallow(&self, signal: u32, target: &Task, sender: Sender) -> bool {
        if sender != Sender::Process {
            return false;
        }
        let registry = &self.0;
        match registry.claim(target, signal) {
            Claim::No => false,
            Claim::Pending => true,
            Claim::Start => {
                if checkpoint::queue(target, registry) {
                    true
                } else {
                    registry.finish(target, None);
                    false
                }
            }
        }
    }
}

/// The attached probe; detached when dropped. Checkpoints already queued
/// hold a module reference, so the module cannot go before they have run.
pub(crate) struct Trigger {
    _probe: SendSignalProbe<TriggerSignals>,
}

impl Trigger {
    pub(crate) fn start(registry: Arc<Registry>) -> Result<Self> {
        Ok(Trigger {
            _probe: SendSignalProbe::attach(TriggerSignals(registry))?,
        })
    }
}
