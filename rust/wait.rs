// SPDX-License-Identifier: GPL-2.0

//! Waiting on a condition variable for other threads of a checkpoint or a
//! restore, as only a fatal signal may interrupt it: the threads wait in
//! their own context, where the program's own signals must wait for the
//! end.

use crate::kernel_ext::system::monotonic_ns;
use crate::kernel_ext::task::{self, fatal_signal_pending};
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{CondVar, CondVarTimeoutResult};

/// What ended a wait.
pub(crate) enum Woken {
    /// The condition holds.
    Done,
    /// The time ran out.
    Timeout,
    /// A fatal signal: the waiter is being killed.
    Killed,
}

/// Waits on `changed`, with the lock held in `guard`, until `done` holds,
/// at most `timeout_ms` (0: no limit). Only a fatal signal interrupts:
/// other pending signals wait.
pub(crate) fn wait_until<T>(
    changed: &CondVar,
    guard: &mut Guard<'_, T, MutexBackend>,
    timeout_ms: u32,
    done: impl Fn(&T) -> bool,
) -> Woken {
    let now_ms = || monotonic_ns() / 1_000_000;
    let start = now_ms();
    loop {
        if done(guard) {
            return Woken::Done;
        }
        let waited = now_ms() - start;
        let left = if timeout_ms == 0 {
            1000
        } else if waited >= timeout_ms as u64 {
            return Woken::Timeout;
        } else {
            timeout_ms - waited as u32
        };
        let left = kernel::time::msecs_to_jiffies(left);
        if let CondVarTimeoutResult::Signal { .. } = changed.wait_interruptible_timeout(guard, left)
        {
            if fatal_signal_pending() {
                return Woken::Killed;
            }
            // Another signal is pending: it is delivered once we are done.
            // Meanwhile, poll instead of spinning.
            task::sleep_ms(10);
        }
    }
}
