// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: sockets (AF_UNIX). */
#include <net/af_unix.h>
#include <net/sock.h>
#include <linux/skbuff.h>
#include "helpers.h"

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
