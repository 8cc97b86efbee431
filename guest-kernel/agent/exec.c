/* exec.c — owns starting exec'd processes (see exec.h). The agent, not the container's
 * process, is their parent, so it reaps them; they join the container the way
 * nsenter(1) does: the namespaces by setns, then the container's root by chroot. */
#include "exec.h"
#include "boot.h"
#include "cgroup.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;
	int type;
} joined_ns[] = {
	{ "mnt", CLONE_NEWNS }, { "uts", CLONE_NEWUTS }, { "ipc", CLONE_NEWIPC },
	{ "cgroup", CLONE_NEWCGROUP },
};
#define NJOINED (sizeof joined_ns / sizeof joined_ns[0])

/* An fd for the container's namespace of this kind, or -1 when it is the agent's own
 * (the config asked for none): joining one's own namespace is at best a no-op. */
static int open_ns(pid_t pid, const char *name, int *fd)
{
	char path[64];
	struct stat mine, theirs;
	*fd = -1;
	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	if (stat(path, &mine) < 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, name);
	if (stat(path, &theirs) < 0)
		return -1;
	if (mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev)
		return 0;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -1 : 0;
}

__attribute__((noreturn)) static void exec_child(const struct plan *p, struct spawn *sp,
						 const int *nsfd, int userfd, int rootfd)
{
	spawn_child(sp);
	/* Before setns: the move is checked against the agent's cgroup namespace, where
	 * the container's cgroup is visible (it is the root of the container's own). */
	if (cgroup_enter(0) < 0)
		process_fail("join the container's cgroup: %s", strerror(errno));
	process_reset_signals();
	for (size_t i = 0; i < NJOINED; i++)
		if (nsfd[i] >= 0 && setns(nsfd[i], joined_ns[i].type) < 0)
			process_fail("join the container's %s namespace: %s", joined_ns[i].name,
				     strerror(errno));
	/* Joining the mount namespace leaves us at its root, under the container's root
	 * mount (moved onto "/"); the container's root is what its process sees. */
	if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		process_fail("enter the container's root: %s", strerror(errno));
	/* The user namespace last, as the container's process entered it (container.c):
	 * joining the others needs the guest's root. setns gives its root's capabilities;
	 * process_prepare then changes to the process's ids, interpreted there. The
	 * rlimits first, which cannot be raised from inside. */
	if (userfd >= 0) {
		process_set_rlimits(p);
		if (setns(userfd, CLONE_NEWUSER) < 0)
			process_fail("join the container's user namespace: %s", strerror(errno));
	}
	if (!p->tty && (dup2(sp->in[0], 0) < 0 || dup2(sp->out[1], 1) < 0 || dup2(sp->er[1], 2) < 0))
		process_fail("dup2 stdio: %s", strerror(errno));
	setsid();
	if (p->tty)
		process_take_tty(p, sp->sock[1]);
	char exe[4096];
	process_prepare(p, exe, sizeof exe);
	process_report_ok();
	process_exec(p, exe);
}

int exec_start(const struct plan *p, pid_t container_pid, struct exec_proc *e, char *err,
	       size_t errlen)
{
	int nsfd[NJOINED], pidns = -1, ownpidns = -1, userns = -1, rootfd = -1, r = -1;
	char path[64];
	for (size_t i = 0; i < NJOINED; i++)
		nsfd[i] = -1;
	for (size_t i = 0; i < NJOINED; i++)
		if (open_ns(container_pid, joined_ns[i].name, &nsfd[i]) < 0) {
			snprintf(err, errlen, "exec: the container's %s namespace: %s",
				 joined_ns[i].name, strerror(errno));
			goto out;
		}
	if (open_ns(container_pid, "user", &userns) < 0) {
		snprintf(err, errlen, "exec: the container's user namespace: %s", strerror(errno));
		goto out;
	}
	if (open_ns(container_pid, "pid", &pidns) < 0 ||
	    (ownpidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "exec: the container's pid namespace: %s", strerror(errno));
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/root", (int)container_pid);
	rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		snprintf(err, errlen, "exec: the container's root: %s", strerror(errno));
		goto out;
	}
	struct spawn sp;
	if (spawn_open(&sp, p->tty, err, errlen) < 0)
		goto out;
	/* A PID namespace is entered only by being born in it: setns sets where our
	 * children go; we go back to our own right after the fork. */
	if (pidns >= 0 && setns(pidns, CLONE_NEWPID) < 0) {
		snprintf(err, errlen, "exec: join the container's pid namespace: %s", strerror(errno));
		spawn_close(&sp);
		goto out;
	}
	pid_t pid = fork();
	if (pid == 0)
		exec_child(p, &sp, nsfd, userns, rootfd);
	int saved = errno;
	if (pidns >= 0 && setns(ownpidns, CLONE_NEWPID) < 0)
		fatal("return to the agent's pid namespace: %s", strerror(errno));
	if (pid < 0) {
		snprintf(err, errlen, "exec: fork: %s", strerror(saved));
		spawn_close(&sp);
		goto out;
	}
	if (spawn_finish(&sp, pid, &e->io, err, errlen) < 0)
		goto out;
	e->num = p->exec;
	e->pid = pid;
	e->exited = 0;
	e->status = 0;
	relay_buf_init(&e->in);
	r = 0;
out:
	for (size_t i = 0; i < NJOINED; i++)
		if (nsfd[i] >= 0)
			close(nsfd[i]);
	if (pidns >= 0)
		close(pidns);
	if (userns >= 0)
		close(userns);
	if (ownpidns >= 0)
		close(ownpidns);
	if (rootfd >= 0)
		close(rootfd);
	return r;
}

void exec_forget(struct exec_proc *e)
{
	proc_stdio_close(&e->io);
	relay_buf_clear(&e->in);
	e->num = 0;
	e->pid = 0;
	e->exited = 0;
}
