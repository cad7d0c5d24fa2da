// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: tasks, signals and per-task state. */
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/coredump.h>
#include <linux/time_namespace.h>
#include <linux/rseq.h>
#include <linux/entry-common.h>
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

bool chpox_try_module_get(struct module *module)
{
	return try_module_get(module);
}

struct pt_regs *chpox_current_pt_regs(void)
{
	return current_pt_regs();
}

const char *chpox_kernel_release(void)
{
	return init_utsname()->release;
}

/* The process after @p in the task list (a circle through init_task). RCU. */
struct task_struct *chpox_next_task(struct task_struct *p)
{
	return next_task(p);
}

/* The first thread of @task's process (NULL if none is left). RCU. */
struct task_struct *chpox_first_thread(struct task_struct *task)
{
	return list_first_or_null_rcu(&task->signal->thread_head,
				      struct task_struct, thread_node);
}

/* The thread after @task in its process (NULL after the last). RCU. */
struct task_struct *chpox_next_thread(struct task_struct *task)
{
	return __next_thread(task);
}

struct task_struct *chpox_real_parent(struct task_struct *task)
{
	return rcu_dereference(task->real_parent);
}

bool chpox_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

void chpox_tracepoint_synchronize_unregister(void)
{
	tracepoint_synchronize_unregister();
}

void chpox_task_lock(struct task_struct *task)
{
	task_lock(task);
}

void chpox_task_unlock(struct task_struct *task)
{
	task_unlock(task);
}

int chpox_get_dumpable(struct mm_struct *mm)
{
	return get_dumpable(mm);
}

bool chpox_thread_group_empty(struct task_struct *task)
{
	return thread_group_empty(task);
}

bool chpox_test_and_clear_thread_flag(int flag)
{
	return test_and_clear_thread_flag(flag);
}

void chpox_set_thread_flag(int flag)
{
	set_thread_flag(flag);
}

struct pid *chpox_get_pid(struct pid *pid)
{
	return get_pid(pid);
}

void chpox_timens_add_monotonic(struct timespec64 *ts)
{
	timens_add_monotonic(ts);
}

void chpox_timens_add_boottime(struct timespec64 *ts)
{
	timens_add_boottime(ts);
}

void chpox_ktime_get_boottime_ts64(struct timespec64 *ts)
{
	ktime_get_boottime_ts64(ts);
}

void chpox_preempt_disable(void)
{
	preempt_disable();
}

void chpox_preempt_enable(void)
{
	preempt_enable();
}

void chpox_loadsegment_fs_zero(void)
{
	loadsegment(fs, 0);
}

void chpox_x86_fsbase_write_cpu(unsigned long fsbase)
{
	x86_fsbase_write_cpu(fsbase);
}

#ifdef CONFIG_RSEQ
void chpox_rseq_set_notify_resume(struct task_struct *task)
{
	rseq_set_notify_resume(task);
}
#endif

/* What rseq_preempt() does: the thread's critical section, if it is in one,
 * is aborted on its way back to user space. */
void chpox_rseq_preempt(struct task_struct *task)
{
	rseq_preempt(task);
}

/* If the current task is to get its saved sigmask back on its way out
 * (sigsuspend, ppoll ...), clears that and stores the saved mask in @mask. */
bool chpox_take_saved_sigmask(sigset_t *mask)
{
	if (!test_and_clear_restore_sigmask())
		return false;
	*mask = current->saved_sigmask;
	return true;
}

/* Whether something other than the kernel sees the current task's system
 * calls: a tracer, a seccomp filter, syscall user dispatch. */
bool chpox_syscalls_watched(void)
{
	return current->ptrace || test_syscall_work(SECCOMP) ||
	       test_syscall_work(SYSCALL_USER_DISPATCH);
}

bool chpox_user_64bit_mode(struct pt_regs *regs)
{
	return user_64bit_mode(regs);
}
