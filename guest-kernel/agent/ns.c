/* ns.c — owns creating the container's namespaces in the guest (ns.h). The guest kernel
 * gives each container what runc's host kernel would: its own PID, UTS, IPC, mount and
 * cgroup namespaces as the config asks (the network namespace is the VM's own stack).
 * The VM is the isolation boundary; the namespaces are there so the container sees
 * what the config says it sees. */
#include "ns.h"

#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t ns_fork(int clone_flags)
{
	/* clone with no new stack behaves like fork: the child continues on a copy of
	 * ours. A PID namespace can only be entered at process creation (unshare would
	 * move only the children), so the container process must be born in it. The agent
	 * is single-threaded, so skipping libc's fork bookkeeping is safe. x86_64 argument
	 * order: flags, stack, parent_tid, child_tid, tls. */
	return (pid_t)syscall(SYS_clone, (unsigned long)(clone_flags | SIGCHLD), 0, 0, 0, 0);
}

int ns_loopback_up(void)
{
	/* runc does the same for a new network namespace: without lo up, even
	 * 127.0.0.1 does not answer. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(s);
	errno = saved;
	return r;
}
