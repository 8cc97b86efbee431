/* vmsetup.h — VM-wide settings from `create`: clock, CRNG seed, disk size, network. */
#ifndef RUNX_AGENT_VMSETUP_H
#define RUNX_AGENT_VMSETUP_H

#include <stddef.h>

#include "frame.h"

/* Applies the time, seed, disk.bytes and net.* fields present in m. 0, or -1 with err. */
int vm_setup(const struct ctl_msg *m, char *err, size_t errlen);

#endif
