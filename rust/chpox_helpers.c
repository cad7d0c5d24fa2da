// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers around static inlines and macros, for the Rust side of chpox.
 * Nothing here decides anything: the logic lives in the Rust files.
 */
#include <linux/fs.h>
#include <linux/proc_fs.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include "chpox_helpers.h"

unsigned long chpox_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

void chpox_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}

const struct cred *chpox_get_cred(const struct cred *cred)
{
	return get_cred(cred);
}

void chpox_put_cred(const struct cred *cred)
{
	put_cred(cred);
}

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

struct inode *chpox_file_inode(const struct file *file)
{
	return file_inode(file);
}

void *chpox_pde_data(const struct inode *inode)
{
	return pde_data(inode);
}

void chpox_tracepoint_synchronize_unregister(void)
{
	tracepoint_synchronize_unregister();
}
