// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: pipes (struct pipe_inode_info is opaque to bindgen). */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pipe_fs_i.h>
#include "helpers.h"

struct pipe_inode_info *chpox_inode_pipe(const struct inode *inode)
{
	return inode->i_pipe;
}

unsigned int chpox_pipe_head(const struct pipe_inode_info *pipe)
{
	return pipe->head;
}

unsigned int chpox_pipe_tail(const struct pipe_inode_info *pipe)
{
	return pipe->tail;
}

unsigned int chpox_pipe_max_usage(const struct pipe_inode_info *pipe)
{
	return pipe->max_usage;
}

unsigned int chpox_pipe_ring_size(const struct pipe_inode_info *pipe)
{
	return pipe->ring_size;
}

/* A struct pipe_buffer, opaque to Rust. */
const void *chpox_pipe_buf(const struct pipe_inode_info *pipe, unsigned int index)
{
	return &pipe->bufs[index];
}

unsigned int chpox_pipe_buf_len(const void *buf)
{
	return ((const struct pipe_buffer *)buf)->len;
}

const void *chpox_pipe_buf_data(const void *buf)
{
	const struct pipe_buffer *b = buf;

	return page_address(b->page) + b->offset;
}
