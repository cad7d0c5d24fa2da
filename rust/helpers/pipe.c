// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: pipes. */
#include <linux/fs.h>
#include <linux/pipe_fs_i.h>
#include "helpers.h"

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
