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

bool chpox_shmem_file(struct file *file)
{
	return shmem_file(file);
}

void chpox_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vm_flags_set(vma, flags);
}
