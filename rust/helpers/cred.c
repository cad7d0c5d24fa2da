// SPDX-License-Identifier: GPL-2.0
/* chpox helpers: credentials. */
#include <linux/cred.h>
#include <linux/capability.h>
#include "helpers.h"

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

/* What prctl(PR_SET_MM_MAP) asks of a caller that sets the exe file. */
bool chpox_checkpoint_restore_capable(void)
{
	return checkpoint_restore_ns_capable(current_user_ns());
}
