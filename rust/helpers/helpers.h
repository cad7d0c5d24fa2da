/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel interfaces chpox uses that the `kernel` crate of Linux 6.12 does not
 * bind. bindgen reads this header (see Kbuild); helpers/<subsystem>.c
 * implement the chpox_* functions, thin wrappers around static inlines and
 * macros that bindgen cannot turn into callable functions.
 */
#ifndef CHPOX_HELPERS_H
#define CHPOX_HELPERS_H

#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/pipe_fs_i.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs_struct.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/proc_fs.h>
#include <linux/regset.h>
#include <linux/sched/signal.h>
#include <linux/task_work.h>
#include <linux/utsname.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/tracepoint.h>
#include <linux/zstd.h>

/* sync.c: locks and RCU */
unsigned long chpox_spin_lock_irqsave(spinlock_t *lock);
void chpox_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
void chpox_rcu_read_lock(void);
void chpox_rcu_read_unlock(void);
void chpox_cond_resched(void);

/* cred.c: credentials */
const struct cred *chpox_get_cred(const struct cred *cred);
void chpox_put_cred(const struct cred *cred);
const struct cred *chpox_current_cred(void);
bool chpox_checkpoint_restore_capable(void);

/* task.c: tasks, signals and per-task state */
struct pid *chpox_task_tgid(struct task_struct *task);
bool chpox_thread_group_dead(struct task_struct *task);
bool chpox_try_module_get(struct module *module);
struct pt_regs *chpox_current_pt_regs(void);
const char *chpox_kernel_release(void);
struct task_struct *chpox_next_task(struct task_struct *p);
struct task_struct *chpox_real_parent(struct task_struct *task);
struct task_struct *chpox_first_thread(struct task_struct *task);
struct task_struct *chpox_next_thread(struct task_struct *task);
bool chpox_fatal_signal_pending(void);
void chpox_tracepoint_synchronize_unregister(void);

void chpox_task_lock(struct task_struct *task);
void chpox_task_unlock(struct task_struct *task);
int chpox_get_dumpable(struct mm_struct *mm);
bool chpox_thread_group_empty(struct task_struct *task);
bool chpox_test_and_clear_thread_flag(int flag);
void chpox_set_thread_flag(int flag);
struct pid *chpox_get_pid(struct pid *pid);
void chpox_timens_add_monotonic(struct timespec64 *ts);
void chpox_timens_add_boottime(struct timespec64 *ts);
void chpox_ktime_get_boottime_ts64(struct timespec64 *ts);
void chpox_preempt_disable(void);
void chpox_preempt_enable(void);
void chpox_loadsegment_fs_zero(void);
void chpox_x86_fsbase_write_cpu(unsigned long fsbase);
void chpox_rseq_set_notify_resume(struct task_struct *task);
void chpox_rseq_preempt(struct task_struct *task);
bool chpox_take_saved_sigmask(sigset_t *mask);
bool chpox_syscalls_watched(void);
bool chpox_user_64bit_mode(struct pt_regs *regs);

/* mm.c: address spaces and mapped files */
void chpox_mmap_read_lock(struct mm_struct *mm);
void chpox_mmap_read_unlock(struct mm_struct *mm);
void chpox_mmap_write_lock(struct mm_struct *mm);
void chpox_mmap_write_unlock(struct mm_struct *mm);
unsigned long chpox_get_mm_counter(struct mm_struct *mm, int member);
bool chpox_page_is_anon(struct page *page);
void chpox_put_page(struct page *page);
void chpox_mm_arg_lock(struct mm_struct *mm);
void chpox_mm_arg_unlock(struct mm_struct *mm);
unsigned long chpox_mmap_min_addr(void);
struct vm_area_struct *chpox_vma_lookup(struct mm_struct *mm, unsigned long addr);
void chpox_folio_put(struct folio *folio);
bool chpox_shmem_file(struct file *file);
void chpox_vm_flags_set(struct vm_area_struct *vma, unsigned long flags);

/* fs.c: files, inodes, mounts and descriptor tables */
struct file *chpox_get_file(struct file *file);
void *chpox_pde_data(const struct inode *inode);
void chpox_get_fs_pwd(struct path *pwd);
bool chpox_close_on_exec(unsigned int fd);
unsigned int chpox_max_fds(void);
loff_t chpox_i_size_read(const struct inode *inode);
struct timespec64 chpox_inode_get_mtime(const struct inode *inode);
struct mnt_idmap *chpox_mnt_idmap(const struct vfsmount *mnt);

/* exe.c: the executable of an mm */
struct mm_struct *chpox_current_mm(void);
struct file *chpox_mm_exe_file_rcu(struct mm_struct *mm);
struct file *chpox_mm_exe_file_locked(struct mm_struct *mm);
void chpox_mm_set_exe_file(struct mm_struct *mm, struct file *file);
bool chpox_file_get_not_zero(struct file *file);
int chpox_exe_file_deny_write_access(struct file *file);
void chpox_exe_file_allow_write_access(struct file *file);

/* pipe.c: pipes */
struct pipe_inode_info *chpox_inode_pipe(const struct inode *inode);
unsigned int chpox_pipe_head(const struct pipe_inode_info *pipe);
unsigned int chpox_pipe_tail(const struct pipe_inode_info *pipe);
unsigned int chpox_pipe_max_usage(const struct pipe_inode_info *pipe);
unsigned int chpox_pipe_ring_size(const struct pipe_inode_info *pipe);
const void *chpox_pipe_buf(const struct pipe_inode_info *pipe, unsigned int index);
unsigned int chpox_pipe_buf_len(const void *buf);
const void *chpox_pipe_buf_data(const void *buf);

/* net.c: sockets (AF_UNIX) */
unsigned long chpox_socket_ino(struct socket *sock);
struct sock *chpox_unix_peer(struct sock *sk);
void chpox_sock_hold(struct sock *sk);
void chpox_sock_put(struct sock *sk);
unsigned short chpox_sk_family(const struct sock *sk);
void chpox_sk_queue_lock(struct sock *sk);
void chpox_sk_queue_unlock(struct sock *sk);
struct sk_buff *chpox_sk_queue_peek(struct sock *sk);
struct sk_buff *chpox_sk_queue_peek_next(struct sock *sk, struct sk_buff *skb);
unsigned int chpox_sk_shutdown(const struct sock *sk);
unsigned char chpox_sk_state(const struct sock *sk);
unsigned int chpox_sk_max_ack_backlog(const struct sock *sk);
const void *chpox_unix_address(struct sock *sk);
int chpox_unix_address_len(const void *addr);
const char *chpox_unix_address_path(const void *addr);
struct socket *chpox_sk_socket(struct sock *sk);
unsigned int chpox_skb_len(const struct sk_buff *skb);
unsigned int chpox_unix_skb_consumed(struct sk_buff *skb);
bool chpox_unix_skb_has_fds(struct sk_buff *skb);

#endif
