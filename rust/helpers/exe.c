// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: the executable of an mm. */
#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/sched.h>
#include "helpers.h"

struct mm_struct *chpox_current_mm(void)
{
	return current->mm;
}

/* The caller holds rcu_read_lock(). */
struct file *chpox_mm_exe_file_rcu(struct mm_struct *mm)
{
	return rcu_dereference(mm->exe_file);
}

/* The caller holds the mmap lock in write mode. */
struct file *chpox_mm_exe_file_locked(struct mm_struct *mm)
{
	return rcu_dereference_protected(mm->exe_file, lockdep_is_held(&mm->mmap_lock));
}

/* The caller holds the mmap lock in write mode. */
void chpox_mm_set_exe_file(struct mm_struct *mm, struct file *file)
{
	rcu_assign_pointer(mm->exe_file, file);
}

bool chpox_file_get_not_zero(struct file *file)
{
	return atomic_long_inc_not_zero(&file->f_count);
}

int chpox_exe_file_deny_write_access(struct file *file)
{
	return exe_file_deny_write_access(file);
}

void chpox_exe_file_allow_write_access(struct file *file)
{
	exe_file_allow_write_access(file);
}
