// SPDX-License-Identifier: GPL-2.0

//! A failed checkpoint: the step it failed at and the error, as
//! `/proc/chpox` reports them (`last_step`, `last_errno`).

use kernel::prelude::*;

/// The steps of a checkpoint, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    /// Bringing the tree to a stop.
    Freeze,
    /// A member's main thread has exited while others run.
    Threads,
    /// A member is not of the root's user, or not dumpable.
    Tree,
    /// The registrant may no longer checkpoint a member.
    Permission,
    /// Creating the dump file.
    Open,
    /// Identity, credentials, cwd, executable.
    Process,
    /// Exited children not waited for.
    Zombies,
    /// Reading the memory map.
    MemoryMap,
    /// The address space (and allocations).
    Memory,
    /// A thread's registers, FPU state, mask, own signals, rseq.
    Registers,
    /// Dispositions, signals pending for the process.
    Signals,
    /// Open files.
    Files,
    /// Pipe contents.
    Pipes,
    /// Socket queues and names.
    Sockets,
    /// Writing the dump.
    Write,
    /// Putting the finished dump in place.
    Commit,
}

impl Step {
    /// The word `/proc/chpox` shows.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::Freeze => "freeze",
            Step::Threads => "threads",
            Step::Tree => "tree",
            Step::Permission => "permission",
            Step::Open => "open",
            Step::Process => "process",
            Step::Zombies => "zombies",
            // One word: /proc/chpox separates its fields with spaces.
            Step::MemoryMap => "memory_map",
            Step::Memory => "memory",
            Step::Registers => "registers",
            Step::Signals => "signals",
            Step::Files => "files",
            Step::Pipes => "pipes",
            Step::Sockets => "sockets",
            Step::Write => "write",
            Step::Commit => "commit",
        }
    }
}

/// A failed checkpoint: the step and the error.
pub(crate) struct Failure {
    pub(crate) step: Step,
    pub(crate) error: Error,
}

impl Failure {
    pub(crate) fn new(step: Step, error: Error) -> Self {
        Failure { step, error }
    }
}

pub(crate) type StepResult<T> = core::result::Result<T, Failure>;

/// Names the step of a `Result`.
pub(crate) trait At<T> {
    fn at(self, step: Step) -> StepResult<T>;
}

impl<T> At<T> for Result<T> {
    fn at(self, step: Step) -> StepResult<T> {
        self.map_err(|e| Failure::new(step, e))
    }
}
