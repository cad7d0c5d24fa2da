// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: sockets (struct sock is opaque to bindgen), AF_UNIX ones. */
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

void chpox_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

void chpox_sock_put(struct sock *sk)
{
	sock_put(sk);
}

unsigned short chpox_sk_family(const struct sock *sk)
{
	return sk->sk_family;
}

void chpox_sk_queue_lock(struct sock *sk)
{
	spin_lock(&sk->sk_receive_queue.lock);
}

void chpox_sk_queue_unlock(struct sock *sk)
{
	spin_unlock(&sk->sk_receive_queue.lock);
}

struct sk_buff *chpox_sk_queue_peek(struct sock *sk)
{
	return skb_peek(&sk->sk_receive_queue);
}

struct sk_buff *chpox_sk_queue_peek_next(struct sock *sk, struct sk_buff *skb)
{
	return skb_peek_next(skb, &sk->sk_receive_queue);
}

unsigned int chpox_sk_shutdown(const struct sock *sk)
{
	return READ_ONCE(sk->sk_shutdown);
}

unsigned char chpox_sk_state(const struct sock *sk)
{
	return READ_ONCE(sk->sk_state);
}

unsigned int chpox_sk_max_ack_backlog(const struct sock *sk)
{
	return READ_ONCE(sk->sk_max_ack_backlog);
}

/* Set once by bind(), freed with the socket: read as unix_getname() does. */
const void *chpox_unix_address(struct sock *sk)
{
	return smp_load_acquire(&unix_sk(sk)->addr);
}

int chpox_unix_address_len(const void *addr)
{
	return ((const struct unix_address *)addr)->len;
}

const char *chpox_unix_address_path(const void *addr)
{
	return ((const struct unix_address *)addr)->name->sun_path;
}

struct socket *chpox_sk_socket(struct sock *sk)
{
	return sk->sk_socket;
}

unsigned int chpox_skb_len(const struct sk_buff *skb)
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
