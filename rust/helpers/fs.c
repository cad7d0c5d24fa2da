// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: files, inodes, mounts and descriptor tables. */
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/mount.h>
#include <linux/proc_fs.h>
#include "helpers.h"

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

/* The caller holds rcu_read_lock(). */
bool chpox_close_on_exec(unsigned int fd)
{
	return close_on_exec(fd, current->files);
}

/* Size of the current task's descriptor table; the caller holds RCU. */
unsigned int chpox_max_fds(void)
{
	return files_fdtable(current->files)->max_fds;
}

loff_t chpox_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

struct timespec64 chpox_inode_get_mtime(const struct inode *inode)
{
	return inode_get_mtime(inode);
}

struct mnt_idmap *chpox_mnt_idmap(const struct vfsmount *mnt)
{
	return mnt_idmap(mnt);
}
