/* seccomp.c — owns installing the container's seccomp filter (seccomp.h). The program
 * is compiled on the host (src/bundle/seccomp-bpf.ts) so the agent needs no syscall
 * table and no libseccomp; the kernel verifies the program when it is installed. */
#include "seccomp.h"

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* linux/filter.h and linux/seccomp.h, which musl-gcc does not see. */
#define SECCOMP_SET_MODE_FILTER 1
struct sock_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct sock_fprog {
	unsigned short len;
	struct sock_filter *filter;
};

int seccomp_install(const void *prog, unsigned short len, unsigned flags)
{
	struct sock_fprog fp = { .len = len, .filter = (struct sock_filter *)prog };
	/* seccomp(2) rather than prctl(PR_SET_SECCOMP): only it takes flags (TSYNC, LOG,
	 * SPEC_ALLOW). musl has no wrapper. */
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp);
}
