/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel interfaces chpox uses that the `kernel` crate of Linux 6.12 does not
 * bind. bindgen reads this header (see Kbuild); chpox_helpers.c implements the
 * chpox_* functions, thin wrappers around static inlines and macros that
 * bindgen cannot turn into callable functions.
 */
#ifndef CHPOX_HELPERS_H
#define CHPOX_HELPERS_H

#include <linux/cred.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs_struct.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/proc_fs.h>
#include <linux/regset.h>
#include <linux/sched/signal.h>
#include <linux/task_work.h>
#include <linux/utsname.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/tracepoint.h>

unsigned long chpox_spin_lock_irqsave(spinlock_t *lock);
void chpox_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);

const struct cred *chpox_get_cred(const struct cred *cred);
void chpox_put_cred(const struct cred *cred);

struct pid *chpox_task_tgid(struct task_struct *task);
bool chpox_thread_group_dead(struct task_struct *task);
bool chpox_task_dumpable(struct task_struct *task);

struct inode *chpox_file_inode(const struct file *file);
void *chpox_pde_data(const struct inode *inode);

void chpox_tracepoint_synchronize_unregister(void);

bool chpox_try_module_get(struct module *module);
struct pt_regs *chpox_current_pt_regs(void);

void chpox_mmap_read_lock(struct mm_struct *mm);
void chpox_mmap_read_unlock(struct mm_struct *mm);
void chpox_mmap_write_lock(struct mm_struct *mm);
void chpox_mmap_write_unlock(struct mm_struct *mm);
void chpox_set_fs_base(unsigned long fsbase);
struct pt_regs;
bool chpox_mm_has_swap_entries(struct mm_struct *mm);
bool chpox_page_is_anon(struct page *page);
void chpox_put_page(struct page *page);

void chpox_get_fs_pwd(struct path *pwd);
bool chpox_close_on_exec(unsigned int fd);
void chpox_current_ids(int ids[4]);
unsigned int chpox_max_fds(void);
struct file *chpox_current_exe_file(void);
const char *chpox_kernel_release(void);

#endif
