/* container.c — owns the container child: fork, setup inside the guest, the status and
 * start pipes, and exec (see container.h). The child reports its setup result over a
 * CLOEXEC status pipe, then blocks on the start pipe until the host says `start`. */
#include "container.h"
#include "caps.h"
#include "devices.h"
#include "ns.h"
#include "seccomp.h"
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PROPAGATION (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)
#define STATUS_OK 'O'
#define STATUS_ERR 'E'

/* The child's status pipe; only meaningful in the child. */
static int status_fd = -1;

/* Reports a setup failure to the agent and ends the child. The message is one line:
 * it becomes the `msg` of the `error` reply the user sees. */
__attribute__((noreturn, format(printf, 1, 2))) static void child_fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	buf[0] = STATUS_ERR;
	va_start(ap, fmt);
	int n = vsnprintf(buf + 1, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	/* A pipe write of <= PIPE_BUF bytes is atomic, and the agent is reading. */
	if (write(status_fd, buf, (size_t)n + 1) < 0) {
		/* Nothing left to tell: the agent sees EOF and a generic error. */
	}
	_exit(1);
}

/* "/mnt/root" + container path. Paths are not resolved inside the root: a symlink in
 * the image can point a mount elsewhere in the guest, which is acceptable because the
 * VM, not the mount namespace, is the isolation boundary. */
static void in_root(char *out, size_t outlen, const char *path)
{
	int n = snprintf(out, outlen, "%s%s", ROOT_MOUNT, path);
	if (n < 0 || (size_t)n >= outlen)
		child_fail("path too long: %s", path);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path);
	if (len >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Creates the mount point: a directory, or an empty file when a file is bind-mounted
 * (a bind needs the same kind of inode on both sides). */
static void make_mountpoint(const struct plan_mount *m, const char *dest)
{
	struct stat st;
	int file = (m->flags & MS_BIND) && m->source && stat(m->source, &st) == 0 &&
		   !S_ISDIR(st.st_mode);
	if (!file) {
		if (mkdir_p(dest, 0755) < 0)
			child_fail("mkdir %s: %s", dest, strerror(errno));
		return;
	}
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dest);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755) < 0)
			child_fail("mkdir %s: %s", parent, strerror(errno));
	}
	int fd = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EISDIR)
		child_fail("create mount point %s: %s", dest, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void do_mount(const struct plan_mount *m)
{
	char dest[4096];
	in_root(dest, sizeof dest, m->dest);
	make_mountpoint(m, dest);

	unsigned long flags = m->flags & ~PROPAGATION;
	const char *type = m->type ? m->type : "none";
	if (flags & MS_BIND) {
		/* mount(2) ignores every flag but MS_REC on the first bind; ro/nosuid/... only
		 * take effect through a second, remounting call. */
		if (mount(m->source, dest, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			child_fail("bind mount %s on %s: %s", m->source ? m->source : "",
				   m->dest, strerror(errno));
		unsigned long rest = flags & ~(MS_BIND | MS_REC);
		if (rest && mount(NULL, dest, NULL, MS_REMOUNT | MS_BIND | rest, NULL) < 0)
			child_fail("remount %s: %s", m->dest, strerror(errno));
	} else if (mount(m->source ? m->source : type, dest, type, flags, m->data) < 0) {
		child_fail("mount %s (%s) on %s: %s", m->source ? m->source : "", type, m->dest,
			   strerror(errno));
	}
	if ((m->flags & PROPAGATION) &&
	    mount(NULL, dest, NULL, m->flags & (PROPAGATION | MS_REC), NULL) < 0)
		child_fail("set propagation of %s: %s", m->dest, strerror(errno));
}

/* The nodes and links every container /dev has (config-linux.md "Default Devices",
 * runc's default devices). Existing entries are left alone. On the config's own /dev
 * tmpfs a failure fails the container; on the image's /dev (no /dev mount) they are
 * made where the file system allows, as runc makes them in the rootfs. */
static void populate_dev(int strict)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 },    { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const struct {
		const char *name, *target;
	} links[] = {
		{ "ptmx", "pts/ptmx" },           { "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" },   { "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" },
	};
	char path[4096];
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		snprintf(path, sizeof path, ROOT_MOUNT "/dev/%s", nodes[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0) {
			if (errno == EEXIST || !strict)
				continue;
			child_fail("mknod %s: %s", path, strerror(errno));
		}
		/* mknod applies the umask; device nodes must be 0666 whatever it is. */
		if (chmod(path, 0666) < 0 && strict)
			child_fail("chmod %s: %s", path, strerror(errno));
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(path, sizeof path, ROOT_MOUNT "/dev/%s", links[i].name);
		if (symlink(links[i].target, path) < 0 && errno != EEXIST && strict)
			child_fail("symlink %s: %s", path, strerror(errno));
	}
	snprintf(path, sizeof path, ROOT_MOUNT "/dev/shm");
	if (mkdir(path, 01777) == 0)
		chmod(path, 01777);
	else if (errno != EEXIST && strict)
		child_fail("mkdir %s: %s", path, strerror(errno));
}

static void mask_path(const char *p)
{
	char path[4096];
	struct stat st;
	in_root(path, sizeof path, p);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		child_fail("mask %s: %s", p, strerror(errno));
	}
	/* Directories get an empty read-only tmpfs, anything else the agent's /dev/null
	 * (devtmpfs, present whether or not the container has a /dev). */
	int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL)
				    : mount("/dev/null", path, NULL, MS_BIND, NULL);
	if (r < 0)
		child_fail("mask %s: %s", p, strerror(errno));
}

/* MS_NOSUID etc. already on the mount at path: a bind remount replaces the per-mount
 * flags, so they must be passed again or the remount would drop them. */
static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	return f;
}

static void readonly_path(const char *p)
{
	char path[4096];
	in_root(path, sizeof path, p);
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return;
		child_fail("readonly %s: %s", p, strerror(errno));
	}
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(path), NULL) < 0)
		child_fail("readonly %s: %s", p, strerror(errno));
}

static int is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Resolves argv[0] the way the OCI runtimes do: as is when it has a '/', else through
 * PATH from the container's env (not the agent's). */
static void resolve_exe(const struct plan *p, char *out, size_t outlen)
{
	const char *name = p->args[0];
	if (strchr(name, '/')) {
		struct stat st;
		if (stat(name, &st) < 0)
			child_fail("exec: \"%s\": stat %s: %s", name, name, strerror(errno));
		if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0)
			child_fail("exec: \"%s\": permission denied", name);
		snprintf(out, outlen, "%s", name);
		return;
	}
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; i < p->nenv; i++)
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			path = p->env[i] + 5;
	for (const char *s = path;;) {
		const char *e = strchr(s, ':');
		size_t dl = e ? (size_t)(e - s) : strlen(s);
		/* An empty PATH element means the current directory. */
		int n = dl ? snprintf(out, outlen, "%.*s/%s", (int)dl, s, name)
			   : snprintf(out, outlen, "./%s", name);
		if (n > 0 && (size_t)n < outlen && is_executable(out))
			return;
		if (!e)
			break;
		s = e + 1;
	}
	child_fail("exec: \"%s\": executable file not found in $PATH", name);
}

struct child_fds {
	int in_r, out_w, err_w, start_r;
};

__attribute__((noreturn)) static void child_main(const struct plan *p, const struct child_fds *f)
{
	/* The agent blocks SIGCHLD for its signalfd and ignores SIGPIPE; both survive
	 * execve, and a container must start with default signal state. */
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);

	/* dup2 clears CLOEXEC on 0..2; every other agent fd is CLOEXEC and goes at exec. */
	if (dup2(f->in_r, 0) < 0 || dup2(f->out_w, 1) < 0 || dup2(f->err_w, 2) < 0)
		child_fail("dup2 stdio: %s", strerror(errno));
	setsid();

	/* The namespaces were made by ns_fork (container_create). The network one is the
	 * VM's own (the VM is the container's network namespace), whose lo starts down;
	 * runc brings lo up in a new network namespace, so this does too. */
	if (ns_loopback_up() < 0)
		child_fail("bring up lo: %s", strerror(errno));
	/* Through the agent's /proc, before the container's mounts can hide or shadow it;
	 * oom_score_adj before the uid change, since lowering it needs privilege. */
	for (size_t i = 0; i < p->nsysctls; i++)
		if (sysctl_write(p->sysctls[i]) < 0)
			child_fail("sysctl %s: %s", p->sysctls[i], strerror(errno));
	if (p->has_oom && oom_score_adj_write(p->oom_score_adj) < 0)
		child_fail("write oom_score_adj: %s", strerror(errno));
	/* Nothing done below may propagate back to the agent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail("make / private: %s", strerror(errno));
	/* The root disk is mounted here, in the child's namespace, so it is unmounted
	 * (and its journal closed) when the container's last process ends. It is mounted
	 * read-write so mount points and /dev nodes can be made; rootro is applied last. */
	if (mkdir_p(ROOT_MOUNT, 0755) < 0)
		child_fail("mkdir %s: %s", ROOT_MOUNT, strerror(errno));
	if (mount(ROOT_DEVICE, ROOT_MOUNT, "ext4", 0, NULL) < 0)
		child_fail("mount root %s: %s", ROOT_DEVICE, strerror(errno));

	for (size_t i = 0; i < p->nshares; i++) {
		char dir[4096];
		snprintf(dir, sizeof dir, SHARE_DIR "/%s", p->shares[i]);
		if (mkdir_p(dir, 0755) < 0)
			child_fail("mkdir %s: %s", dir, strerror(errno));
		if (mount(p->shares[i], dir, "9p", 0, "trans=virtio,version=9p2000.L") < 0)
			child_fail("mount 9p share %s: %s", p->shares[i], strerror(errno));
	}

	/* Everything below creates files as root for the container; the container's own
	 * umask is applied just before exec. */
	umask(0022);
	int dev_tmpfs = 0;
	for (size_t i = 0; i < p->nmounts; i++) {
		do_mount(&p->mounts[i]);
		if (strcmp(p->mounts[i].dest, "/dev") == 0 && p->mounts[i].type &&
		    strcmp(p->mounts[i].type, "tmpfs") == 0)
			dev_tmpfs = 1;
	}
	if (!dev_tmpfs)
		mkdir(ROOT_MOUNT "/dev", 0755);
	populate_dev(dev_tmpfs);
	for (size_t i = 0; i < p->ndevices; i++) {
		const char *what;
		if (device_create(ROOT_MOUNT, &p->devices[i], &what) < 0)
			child_fail("device %s: %s: %s", p->devices[i].path, what, strerror(errno));
	}
	for (size_t i = 0; i < p->nmasked; i++)
		mask_path(p->masked[i]);
	for (size_t i = 0; i < p->nreadonly; i++)
		readonly_path(p->readonly[i]);

	/* switch_root, not pivot_root: the initramfs root (rootfs) cannot be pivoted away,
	 * but it can be shadowed by moving the new root onto / and chrooting into it. */
	if (chdir(ROOT_MOUNT) < 0)
		child_fail("chdir %s: %s", ROOT_MOUNT, strerror(errno));
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		child_fail("move root: %s", strerror(errno));
	if (chroot(".") < 0 || chdir("/") < 0)
		child_fail("chroot: %s", strerror(errno));
	if (p->rootro && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		child_fail("remount root read-only: %s", strerror(errno));

	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
		child_fail("sethostname: %s", strerror(errno));
	for (size_t i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			child_fail("setrlimit %d: %s", p->rlimits[i].resource, strerror(errno));
	}
	/* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which the uid
	 * change may take away: install it now (runc's order). With it, install it as late
	 * as possible, just before execve. */
	if (p->seccomp && !p->nnp && seccomp_install(p->seccomp, p->seccomp_len, p->seccomp_flags) < 0)
		child_fail("install seccomp filter: %s", strerror(errno));
	if (p->has_caps && caps_before_setuid(p->cap_bounding) < 0)
		child_fail("drop bounding capabilities: %s", strerror(errno));
	/* Groups, then gid, then uid: after setuid there is no privilege left to change
	 * the other two. */
	if (setgroups(p->ngroups, p->groups) < 0)
		child_fail("setgroups: %s", strerror(errno));
	if (setgid(p->gid) < 0)
		child_fail("setgid %u: %s", (unsigned)p->gid, strerror(errno));
	if (setuid(p->uid) < 0)
		child_fail("setuid %u: %s", (unsigned)p->uid, strerror(errno));
	if (p->has_caps) {
		const char *what;
		if (caps_after_setuid(p->cap_effective, p->cap_permitted, p->cap_inheritable,
				      p->cap_ambient, &what) < 0)
			child_fail("%s: %s", what, strerror(errno));
	}
	umask(p->umask);
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail("prctl no_new_privs: %s", strerror(errno));
	if (chdir(p->cwd) < 0)
		child_fail("chdir to cwd (\"%s\") set in config.json failed: %s", p->cwd,
			   strerror(errno));
	char exe[4096];
	resolve_exe(p, exe, sizeof exe);

	/* Setup done: say so, and close the status pipe so the agent sees EOF. */
	char ok = STATUS_OK;
	if (write(status_fd, &ok, 1) != 1)
		_exit(1);
	close(status_fd);

	char go;
	ssize_t n;
	do
		n = read(f->start_r, &go, 1);
	while (n < 0 && errno == EINTR);
	/* EOF without a byte: the agent gave up on this container. */
	if (n != 1)
		_exit(1);
	close(f->start_r);

	if (p->seccomp && p->nnp && seccomp_install(p->seccomp, p->seccomp_len, p->seccomp_flags) < 0) {
		dprintf(2, "install seccomp filter: %s\n", strerror(errno));
		_exit(127);
	}
	execve(exe, p->args, p->env);
	dprintf(2, "exec %s: %s\n", exe, strerror(errno));
	_exit(127);
}

void container_init(struct container *c)
{
	c->pid = 0;
	c->stdin_fd = c->stdout_fd = c->stderr_fd = c->start_fd = -1;
	c->exited = 0;
	c->status = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void container_reset(struct container *c)
{
	close_fd(&c->stdin_fd);
	close_fd(&c->stdout_fd);
	close_fd(&c->stderr_fd);
	close_fd(&c->start_fd);
	container_init(c);
}

int container_create(const struct plan *p, struct container *c, char *err, size_t errlen)
{
	/* [0] read end, [1] write end; all CLOEXEC so nothing leaks into the exec'd
	 * process but the three dup2'd stdio fds. */
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	int st[2] = { -1, -1 }, go[2] = { -1, -1 };
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* A mount namespace always: the container's root and mounts must not show in
	 * the agent's. */
	pid_t pid = ns_fork(p->clone_flags | CLONE_NEWNS);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		status_fd = st[1];
		struct child_fds f = { in[0], out[1], er[1], go[0] };
		child_main(p, &f);
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	close_fd(&st[1]);
	close_fd(&go[0]);

	/* Blocks the event loop for the length of the setup (a few ms of mounts): the
	 * host is waiting for this reply anyway. EOF comes when the child closes the pipe
	 * after 'O', or when it exits. */
	char buf[1100];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(st[0], buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof buf - 1)
			break;
	}
	close_fd(&st[0]);
	if (got != 1 || buf[0] != STATUS_OK) {
		if (got > 1 && buf[0] == STATUS_ERR) {
			buf[got] = '\0';
			snprintf(err, errlen, "%s", buf + 1);
		} else {
			snprintf(err, errlen, "container setup failed");
		}
		/* Reap it here so the SIGCHLD handler never mistakes it for an exit. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	/* The agent must never block on the child's stdin, and drains output with poll. */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(er[0], F_SETFL, O_NONBLOCK);
	c->pid = pid;
	c->stdin_fd = in[1];
	c->stdout_fd = out[0];
	c->stderr_fd = er[0];
	c->start_fd = go[1];
	c->exited = 0;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&er[i]);
		close_fd(&st[i]);
		close_fd(&go[i]);
	}
	return -1;
}

int container_start(struct container *c)
{
	char go = 's';
	ssize_t n;
	do
		n = write(c->start_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	close_fd(&c->start_fd);
	return n == 1 ? 0 : -1;
}
