// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: files and descriptor tables. */
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/proc_fs.h>
#include "helpers.h"

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

/* Size of the current task's descriptor table. */
unsigned int chpox_max_fds(void)
{
	unsigned int n;

	rcu_read_lock();
	n = files_fdtable(current->files)->max_fds;
	rcu_read_unlock();
	return n;
}

/* Size and modification time of an open file (inode_get_mtime() is inline). */
void chpox_file_stamp(struct file *file, u64 *size, u64 *mtime_ns)
{
	struct inode *inode = file_inode(file);
	struct timespec64 mtime = inode_get_mtime(inode);

	*size = i_size_read(inode);
	*mtime_ns = timespec64_to_ns(&mtime);
}
