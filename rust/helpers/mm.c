// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: address spaces and mapped files. */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include "helpers.h"

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

/* The number of pages of @mm of kind @member (MM_SWAPENTS ...). */
unsigned long chpox_get_mm_counter(struct mm_struct *mm, int member)
{
	return get_mm_counter(mm, member);
}

bool chpox_page_is_anon(struct page *page)
{
	return PageAnon(page);
}

void chpox_put_page(struct page *page)
{
	put_page(page);
}

void chpox_mm_arg_lock(struct mm_struct *mm)
{
	spin_lock(&mm->arg_lock);
}

void chpox_mm_arg_unlock(struct mm_struct *mm)
{
	spin_unlock(&mm->arg_lock);
}

/* mmap_min_addr is not exported; its build-time default is the floor. */
unsigned long chpox_mmap_min_addr(void)
{
	return CONFIG_DEFAULT_MMAP_MIN_ADDR;
}

struct vm_area_struct *chpox_vma_lookup(struct mm_struct *mm, unsigned long addr)
{
	return vma_lookup(mm, addr);
}

void chpox_folio_put(struct folio *folio)
{
	folio_put(folio);
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

/*
 * Makes file the current mm's executable, as replace_mm_exe_file() (not
 * exported) does for prctl(PR_SET_MM_EXE_FILE): a regular file the task
 * may execute, denied to writers while it is the executable.
 */
int chpox_replace_exe_file(struct file *file)
{
	struct mm_struct *mm = current->mm;
	struct inode *inode = file_inode(file);
	struct file *old;
	int ret;

	if (!S_ISREG(inode->i_mode))
		return -EACCES;
	ret = inode_permission(file_mnt_idmap(file), inode, MAY_EXEC);
	if (ret)
		return ret;
	if (exe_file_deny_write_access(file))
		return -ETXTBSY;
	get_file(file);
	mmap_write_lock(mm);
	old = rcu_dereference_protected(mm->exe_file, lockdep_is_held(&mm->mmap_lock));
	rcu_assign_pointer(mm->exe_file, file);
	mmap_write_unlock(mm);
	if (old) {
		exe_file_allow_write_access(old);
		fput(old);
	}
	return 0;
}

bool chpox_shmem_file(struct file *file)
{
	return shmem_file(file);
}
