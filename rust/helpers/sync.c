// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: locks and RCU. */
#include <linux/spinlock.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include "helpers.h"

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

void chpox_rcu_read_lock(void)
{
	rcu_read_lock();
}

void chpox_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void chpox_cond_resched(void)
{
	cond_resched();
}
