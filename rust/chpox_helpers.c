// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers around static inlines and macros, for the Rust side of chpox.
 * Nothing here decides anything: the logic lives in the Rust files.
 */
#include <linux/fs.h>
#include <linux/pgtable.h>
#include <asm/fsgsbase.h>
#include <linux/proc_fs.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
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

bool chpox_try_module_get(struct module *module)
{
	return try_module_get(module);
}

struct pt_regs *chpox_current_pt_regs(void)
{
	return current_pt_regs();
}

void chpox_mmap_read_lock(struct mm_struct *mm)
{
	mmap_read_lock(mm);
}

void chpox_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

void chpox_mmap_write_lock(struct mm_struct *mm)
{
	mmap_write_lock(mm);
}

void chpox_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
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

/* Whether any page of @mm is swapped out (then a hole may hide data). */
bool chpox_mm_has_swap_entries(struct mm_struct *mm)
{
	return get_mm_counter(mm, MM_SWAPENTS) > 0;
}

bool chpox_page_is_anon(struct page *page)
{
	return PageAnon(page);
}

void chpox_put_page(struct page *page)
{
	put_page(page);
}

void chpox_get_fs_pwd(struct path *pwd)
{
	get_fs_pwd(current->fs, pwd);
}

bool chpox_close_on_exec(unsigned int fd)
{
	bool cloexec;

	rcu_read_lock();
	cloexec = close_on_exec(fd, current->files);
	rcu_read_unlock();
	return cloexec;
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

/* Size of the current task's descriptor table. */
unsigned int chpox_max_fds(void)
{
	unsigned int n;

	rcu_read_lock();
	n = files_fdtable(current->files)->max_fds;
	rcu_read_unlock();
	return n;
}

const char *chpox_kernel_release(void)
{
	return init_utsname()->release;
}

/* A reference to the current process's executable, or NULL. */
struct file *chpox_current_exe_file(void)
{
	struct file *file;

	rcu_read_lock();
	file = rcu_dereference(current->mm->exe_file);
	if (file && !atomic_long_inc_not_zero(&file->f_count))
		file = NULL;
	rcu_read_unlock();
	return file;
}
