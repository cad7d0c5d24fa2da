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

/*
 * Whether the shared-memory page behind addr exists, in this process's page
 * tables or not (another process may have written it): looked up in the
 * file's page cache, without allocating one.
 */
bool chpox_shmem_page_exists(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	struct folio *folio;
	bool exists = false;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma && vma->vm_file) {
		folio = filemap_get_folio(vma->vm_file->f_mapping,
					  linear_page_index(vma, addr));
		if (!IS_ERR(folio)) {
			exists = true;
			folio_put(folio);
		}
	}
	mmap_read_unlock(mm);
	return exists;
}

/*
 * A reference to the file behind the current task's mapping of addr, and
 * where addr is in it; NULL if no file is mapped there.
 */
struct file *chpox_mapped_file(unsigned long addr, loff_t *pos)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct file *file = NULL;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma && vma->vm_file) {
		file = get_file(vma->vm_file);
		*pos = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) + (addr - vma->vm_start);
	}
	mmap_read_unlock(mm);
	return file;
}

/*
 * Whether file is shared memory with no name left: MAP_SHARED|MAP_ANONYMOUS
 * memory, a memfd, a deleted tmpfs file, a SysV segment. Reopening it by
 * path is impossible, so its contents go into the dump.
 */
bool chpox_is_nameless_shmem(struct file *file)
{
	return shmem_file(file) && file_inode(file)->i_nlink == 0;
}
