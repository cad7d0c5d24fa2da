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
#include <linux/time_namespace.h>
#include <linux/rseq.h>
#include <linux/shmem_fs.h>
#include <linux/pagemap.h>
#include <net/af_unix.h>
#include <net/sock.h>
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

const struct cred *chpox_current_cred(void)
{
	return current_cred();
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

struct file *chpox_get_file(struct file *file)
{
	return get_file(file);
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

void chpox_rcu_read_lock(void)
{
	rcu_read_lock();
}

void chpox_rcu_read_unlock(void)
{
	rcu_read_unlock();
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

void chpox_cond_resched(void)
{
	cond_resched();
}

/* What prctl(PR_SET_MM_MAP) asks of a caller that sets the exe file. */
bool chpox_checkpoint_restore_capable(void)
{
	return checkpoint_restore_ns_capable(current_user_ns());
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

/* Size and modification time of an open file (inode_get_mtime() is inline). */
void chpox_file_stamp(struct file *file, u64 *size, u64 *mtime_ns)
{
	struct inode *inode = file_inode(file);
	struct timespec64 mtime = inode_get_mtime(inode);

	*size = i_size_read(inode);
	*mtime_ns = timespec64_to_ns(&mtime);
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

/*
 * Whether file is shared memory with no name left: MAP_SHARED|MAP_ANONYMOUS
 * memory, a memfd, a deleted tmpfs file, a SysV segment. Reopening it by
 * path is impossible, so its contents go into the dump.
 */
bool chpox_is_nameless_shmem(struct file *file)
{
	return shmem_file(file) && file_inode(file)->i_nlink == 0;
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

/* Sets again the flags chpox_hide_signal_flags() cleared. */
void chpox_restore_signal_flags(unsigned int was)
{
	if (was & 1)
		set_thread_flag(TIF_SIGPENDING);
	if (was & 2)
		set_thread_flag(TIF_NOTIFY_SIGNAL);
}

/* The pipe of an open pipe or FIFO (get_pipe_info() is not exported). */
struct pipe_inode_info *chpox_file_pipe(struct file *file)
{
	struct inode *inode = file_inode(file);

	return S_ISFIFO(inode->i_mode) ? inode->i_pipe : NULL;
}

/* Head, tail and capacity in buffers of a locked pipe. */
void chpox_pipe_ring(struct pipe_inode_info *pipe, unsigned int ring[3])
{
	ring[0] = pipe->head;
	ring[1] = pipe->tail;
	ring[2] = pipe->max_usage;
}

/* Data of ring slot @slot of a locked pipe. */
const void *chpox_pipe_buffer(struct pipe_inode_info *pipe, unsigned int slot,
			      unsigned int *len)
{
	struct pipe_buffer *buf = &pipe->bufs[slot & (pipe->ring_size - 1)];

	*len = buf->len;
	return page_address(buf->page) + buf->offset;
}

unsigned long chpox_socket_ino(struct socket *sock)
{
	return SOCK_INODE(sock)->i_ino;
}

struct sock *chpox_unix_peer(struct sock *sk)
{
	return unix_peer_get(sk);
}

void chpox_sock_put(struct sock *sk)
{
	sock_put(sk);
}

bool chpox_sk_is_unix(struct sock *sk)
{
	return sk->sk_family == AF_UNIX;
}

void chpox_sk_queue_lock(struct sock *sk)
{
	spin_lock(&sk->sk_receive_queue.lock);
}

void chpox_sk_queue_unlock(struct sock *sk)
{
	spin_unlock(&sk->sk_receive_queue.lock);
}

/* The receive queue's buffer after @skb (its first if NULL), or NULL. */
struct sk_buff *chpox_sk_queue_next(struct sock *sk, struct sk_buff *skb)
{
	return skb ? skb_peek_next(skb, &sk->sk_receive_queue) :
		     skb_peek(&sk->sk_receive_queue);
}

unsigned int chpox_sk_shutdown(struct sock *sk)
{
	return READ_ONCE(sk->sk_shutdown);
}

/*
 * Copies the sun_path a unix socket is bound to (without the terminating
 * NUL of a file system name) into buf; returns its length, 0 if unbound.
 */
int chpox_unix_name(struct sock *sk, char *buf, int size)
{
	/* Set once by bind(), freed with the socket: as unix_getname(). */
	struct unix_address *addr = smp_load_acquire(&unix_sk(sk)->addr);
	int len;

	if (!addr)
		return 0;
	len = addr->len - (int)offsetof(struct sockaddr_un, sun_path);
	if (len > 0 && addr->name->sun_path[0] && !addr->name->sun_path[len - 1])
		len--;
	if (len < 0 || len > size)
		return -EINVAL;
	memcpy(buf, addr->name->sun_path, len);
	return len;
}

/* Whether the socket listens; if so, its backlog. */
bool chpox_sk_listening(struct sock *sk, unsigned int *backlog)
{
	if (READ_ONCE(sk->sk_state) != TCP_LISTEN)
		return false;
	*backlog = READ_ONCE(sk->sk_max_ack_backlog);
	return true;
}

struct socket *chpox_sk_socket(struct sock *sk)
{
	return sk->sk_socket;
}

unsigned int chpox_skb_len(struct sk_buff *skb)
{
	return skb->len;
}

unsigned int chpox_unix_skb_consumed(struct sk_buff *skb)
{
	return UNIXCB(skb).consumed;
}

bool chpox_unix_skb_has_fds(struct sk_buff *skb)
{
	return UNIXCB(skb).fp != NULL;
}
