/* ns.c — owns creating the container's namespaces in the guest (ns.h). The guest kernel
 * gives each container what runc's host kernel would: its own PID, UTS, IPC, mount and
 * cgroup namespaces as the config asks (the network namespace is the VM's own stack).
 * The VM is the isolation boundary; the namespaces are there so the container sees
 * what the config says it sees. */
#include "ns.h"
#include "plan.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>

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

static int write_map(int fd, const struct plan_idmap *m, size_t n)
{
	/* One write: the kernel takes a map whole, once. */
	char buf[340 * 36];
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%u %u %u\n", m[i].inner,
					m[i].outer, m[i].count);
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* The helper's part: once the process has unshared (a byte on `go`), write its maps
 * through its /proc directory. Exits 0 when both are written. */
__attribute__((noreturn)) static void map_writer(const struct plan *p, int procdir, int go)
{
	char c;
	if (read(go, &c, 1) != 1)
		_exit(1);
	int u = openat(procdir, "uid_map", O_WRONLY | O_CLOEXEC);
	if (u < 0 || write_map(u, p->uidmap, p->nuidmap) < 0)
		_exit(2);
	int g = openat(procdir, "gid_map", O_WRONLY | O_CLOEXEC);
	if (g < 0 || write_map(g, p->gidmap, p->ngidmap) < 0)
		_exit(3);
	_exit(0);
}

int ns_enter_user(const struct plan *p, int procdir, const char **what)
{
	/* A map of arbitrary guest ids is taken only from a writer that has CAP_SETUID in
	 * the parent namespace, i.e. is still outside: a helper forked beforehand, which
	 * reaches our /proc directory through procdir whatever root we have now. */
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0) {
		*what = "pipe";
		return -1;
	}
	pid_t helper = fork();
	if (helper < 0) {
		*what = "fork the uid/gid map writer";
		close(go[0]);
		close(go[1]);
		return -1;
	}
	if (helper == 0) {
		close(go[1]);
		map_writer(p, procdir, go[0]);
	}
	close(go[0]);
	int r = unshare(CLONE_NEWUSER);
	int saved = errno;
	/* Told either way: on failure it finds no new namespace and exits non-zero. */
	if (write(go[1], "u", 1) != 1 && r == 0) {
		r = -1;
		saved = errno;
	}
	close(go[1]);
	int status = 0;
	while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0) {
		*what = "unshare a user namespace";
		errno = saved;
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*what = WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "write gid_map" : "write uid_map";
		errno = EPERM;
		return -1;
	}
	/* Root of the new namespace, as runc's init is, for the credential change to the
	 * process's own user: until now our ids are the guest's root, unmapped there. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		*what = "become root of the user namespace (container uid and gid 0 must be mapped)";
		return -1;
	}
	return 0;
}
