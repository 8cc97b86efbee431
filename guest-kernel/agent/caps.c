/* caps.c — owns applying the five capability sets of process.capabilities (caps.h).
 * The order is the one the kernel's rules force: bounding can only be dropped while
 * CAP_SETPCAP is effective (as root, before setuid); setuid clears the effective and
 * (unless KEEPCAPS) permitted sets; ambient caps can only be raised once they are both
 * permitted and inheritable. */
#include "caps.h"

#include <errno.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* linux/capability.h, which musl-gcc does not see: the version-3 (64-bit) ABI. */
#define CAP_VERSION_3 0x20080522
struct cap_header {
	uint32_t version;
	int pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

int caps_before_setuid(uint64_t bounding)
{
	/* The guest kernel's last capability is found by probing, so a newer kernel's
	 * extra capabilities are dropped too (no /proc needed at this point). */
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* EINVAL: past the last capability */
		if (bounding & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	}
	return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
}

int caps_after_setuid(uint64_t effective, uint64_t permitted, uint64_t inheritable,
		      uint64_t ambient, const char **what)
{
	struct cap_header hdr = { CAP_VERSION_3, 0 };
	struct cap_data data[2] = {
		{ (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
		{ (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32),
		  (uint32_t)(inheritable >> 32) },
	};
	*what = "capset";
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	/* KEEPCAPS has done its job; execve resets it anyway. */
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	*what = "clear ambient capabilities";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	/* An ambient cap that is not both permitted and inheritable cannot exist (EPERM);
	 * like runc, such a request is skipped rather than failing the container: runc's
	 * own default spec asks for ambient caps it leaves out of the inheritable set. */
	for (int cap = 0; cap < 64; cap++)
		if (ambient & (1ull << cap))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
	return 0;
}
