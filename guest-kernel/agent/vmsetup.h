/* vmsetup.h — VM-wide settings from `create`: clock, CRNG seed, disk size, network. */
#ifndef RUNX_AGENT_VMSETUP_H
#define RUNX_AGENT_VMSETUP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "frame.h"
#include "net.h"

/* The part of every `create` that depends on nothing the host sends (lo up, the
 * cgroup hierarchy and the container's cgroup), done ahead at boot. Failures are only
 * logged: `create` does the same again and reports them. */
void vm_boot_setup(void);
/* The time, seed, disk.bytes and net.* fields of a `create`, checked. */
struct vm_plan {
	int has_time;
	struct timespec time;
	size_t seed_len; /* 0: no seed */
	unsigned char seed[64];
	int has_disk;
	uint64_t disk_bytes;
	struct net_plan net;
};

/* Reads and checks those fields of m into v, changing nothing. 0, or -1 with err. */
int vm_parse(const struct ctl_msg *m, struct vm_plan *v, char *err, size_t errlen);
/* Applies v to the VM. 0, or -1 with err. */
int vm_apply(const struct vm_plan *v, char *err, size_t errlen);

#endif
