/* vmsetup.h — VM-wide settings from `create`: clock, CRNG seed, disk size, network. */
#ifndef RUNX_AGENT_VMSETUP_H
#define RUNX_AGENT_VMSETUP_H

#include <stddef.h>

#include "frame.h"

/* The part of every `create` that depends on nothing the host sends (lo up, the
 * cgroup hierarchy and the container's cgroup), done ahead at boot. Failures are only
 * logged: `create` does the same again and reports them. */
void vm_boot_setup(void);
/* Applies the time, seed, disk.bytes and net.* fields present in m. 0, or -1 with err. */
int vm_setup(const struct ctl_msg *m, char *err, size_t errlen);

#endif
