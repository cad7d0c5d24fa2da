// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: tasks, signals and per-task state. */
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/coredump.h>
#include <linux/time_namespace.h>
#include <linux/rseq.h>
#include <linux/utsname.h>
#include <linux/tracepoint.h>
#include <asm/fsgsbase.h>
#include "helpers.h"

struct pid *chpox_task_tgid(struct task_struct *task)
{
	return task_tgid(task);
}

/* True once every thread of the task's process has entered do_exit(). */
bool chpox_thread_group_dead(struct task_struct *task)
{
	return atomic_read(&task->signal->live) == 0;
}

/* The test ptrace applies: a setuid or otherwise protected mm is not dumpable. */
bool chpox_task_dumpable(struct task_struct *task)
{
	bool dumpable = false;

	task_lock(task);
	if (task->mm)
		dumpable = get_dumpable(task->mm) == SUID_DUMP_USER;
	task_unlock(task);
	return dumpable;
}

bool chpox_try_module_get(struct module *module)
{
	return try_module_get(module);
}

struct pt_regs *chpox_current_pt_regs(void)
{
	return current_pt_regs();
}

/* What arch_prctl(ARCH_SET_FS) does for the current task. */
void chpox_set_fs_base(unsigned long fsbase)
{
	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(fsbase);
	current->thread.fsbase = fsbase;
	current->thread.fsindex = 0;
	preempt_enable();
}

/* The process's tgid, parent's tgid, process group and session, as seen
 * from its own pid namespace. */
void chpox_current_ids(int ids[4])
{
	ids[0] = task_tgid_vnr(current);
	ids[1] = task_ppid_nr_ns(current, task_active_pid_ns(current));
	ids[2] = task_pgrp_vnr(current);
	ids[3] = task_session_vnr(current);
}

/*
 * The current process's children that have exited and wait for its
 * wait(): their pids and the status wait() would report, at most max of
 * them; returns how many there are.
 */
unsigned int chpox_zombie_children(int *pids, int *statuses, unsigned int max)
{
	struct task_struct *p;
	unsigned int n = 0;

	rcu_read_lock();
	for_each_process(p) {
		if (rcu_access_pointer(p->real_parent) != current ||
		    READ_ONCE(p->exit_state) != EXIT_ZOMBIE ||
		    !thread_group_empty(p))
			continue;
		if (n < max) {
			pids[n] = task_pid_vnr(p);
			/* As wait_task_zombie() chooses it. */
			statuses[n] = (p->signal->flags & SIGNAL_GROUP_EXIT) ?
					      p->signal->group_exit_code :
					      p->exit_code;
		}
		n++;
	}
	rcu_read_unlock();
	return n;
}

const char *chpox_kernel_release(void)
{
	return init_utsname()->release;
}

/* The process after @p in the task list, NULL after the last. RCU. */
struct task_struct *chpox_next_process(struct task_struct *p)
{
	struct task_struct *next = next_task(p);

	return next == &init_task ? NULL : next;
}

struct task_struct *chpox_real_parent(struct task_struct *task)
{
	return rcu_dereference(task->real_parent);
}

bool chpox_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/*
 * Clears current's "signal pending" flags and returns which were set, for
 * chpox_restore_signal_flags(). Filesystems (netfs, so 9p) give up a write
 * with -ERESTARTSYS while any is set; a checkpoint runs as task work, often
 * with one set, and its writes must not fail for that.
 */
unsigned int chpox_hide_signal_flags(void)
{
	unsigned int was = 0;

	if (test_and_clear_thread_flag(TIF_SIGPENDING))
		was |= 1;
	if (test_and_clear_thread_flag(TIF_NOTIFY_SIGNAL))
		was |= 2;
	return was;
}

/* Sets again the flags chpox_hide_signal_flags() cleared. */
void chpox_restore_signal_flags(unsigned int was)
{
	if (was & 1)
		set_thread_flag(TIF_SIGPENDING);
	if (was & 2)
		set_thread_flag(TIF_NOTIFY_SIGNAL);
}

/*
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME in nanoseconds as current sees them,
 * its time namespace's offsets included (timens_add_*() are inlines).
 */
void chpox_task_clocks(u64 *monotonic, u64 *boottime)
{
	struct timespec64 ts;

	ktime_get_ts64(&ts);
	timens_add_monotonic(&ts);
	*monotonic = timespec64_to_ns(&ts);
	ts = ktime_to_timespec64(ktime_get_boottime());
	timens_add_boottime(&ts);
	*boottime = timespec64_to_ns(&ts);
}

/* The current task's rseq registration, if it has one. */
bool chpox_rseq_get(u64 *addr, u32 *len, u32 *sig)
{
#ifdef CONFIG_RSEQ
	if (!current->rseq)
		return false;
	*addr = (u64)(unsigned long)current->rseq;
	*len = current->rseq_len;
	*sig = current->rseq_sig;
	return true;
#else
	return false;
#endif
}

/*
 * Sets the current task's rseq area as sys_rseq() registers one (the checks
 * of its arguments are the caller's), to be filled in on the way back to
 * user space; addr 0 drops the registration.
 */
int chpox_rseq_set(u64 addr, u32 len, u32 sig)
{
#ifdef CONFIG_RSEQ
	current->rseq = (struct rseq __user *)(unsigned long)addr;
	current->rseq_len = len;
	current->rseq_sig = sig;
	if (addr)
		rseq_set_notify_resume(current);
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

void chpox_tracepoint_synchronize_unregister(void)
{
	tracepoint_synchronize_unregister();
}
