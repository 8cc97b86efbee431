/* container.c — owns the container child: fork, setup inside the guest, the status and
 * start pipes, and exec (see container.h). The child reports its setup result over a
 * CLOEXEC status pipe, then blocks on the start pipe until the host says `start`. */
#include "container.h"
#include "cgroup.h"
#include "devices.h"
#include "ns.h"
#include "process.h"
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

/* "/mnt/root" + container path. Paths are not resolved inside the root: a symlink in
 * the image can point a mount elsewhere in the guest, which is acceptable because the
 * VM, not the mount namespace, is the isolation boundary. */
static void in_root(char *out, size_t outlen, const char *path)
{
	int n = snprintf(out, outlen, "%s%s", ROOT_MOUNT, path);
	if (n < 0 || (size_t)n >= outlen)
		process_fail("path too long: %s", path);
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
			process_fail("mkdir %s: %s", dest, strerror(errno));
		return;
	}
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dest);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755) < 0)
			process_fail("mkdir %s: %s", parent, strerror(errno));
	}
	int fd = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EISDIR)
		process_fail("create mount point %s: %s", dest, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void do_mount(const struct plan_mount *m)
{
	char dest[4096];
	in_root(dest, sizeof dest, m->dest);
	make_mountpoint(m, dest);

	unsigned long flags = m->flags;
	const char *type = m->type ? m->type : "none";
	if (flags & MS_BIND) {
		/* mount(2) ignores every flag but MS_REC on the first bind; ro/nosuid/... only
		 * take effect through a second, remounting call. */
		if (mount(m->source, dest, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			process_fail("bind mount %s on %s: %s", m->source ? m->source : "",
				   m->dest, strerror(errno));
		unsigned long rest = flags & ~(MS_BIND | MS_REC);
		if (rest && mount(NULL, dest, NULL, MS_REMOUNT | MS_BIND | rest, NULL) < 0)
			process_fail("remount %s: %s", m->dest, strerror(errno));
	} else if (mount(m->source ? m->source : type, dest, type, flags, m->data) < 0) {
		process_fail("mount %s (%s) on %s: %s", m->source ? m->source : "", type, m->dest,
			   strerror(errno));
	}
	/* A separate call, as mount(2) takes a propagation change alone. */
	if (m->prop && mount(NULL, dest, NULL, m->prop, NULL) < 0)
		process_fail("set propagation of %s: %s", m->dest, strerror(errno));
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
			process_fail("mknod %s: %s", path, strerror(errno));
		}
		/* mknod applies the umask; device nodes must be 0666 whatever it is. */
		if (chmod(path, 0666) < 0 && strict)
			process_fail("chmod %s: %s", path, strerror(errno));
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(path, sizeof path, ROOT_MOUNT "/dev/%s", links[i].name);
		if (symlink(links[i].target, path) < 0 && errno != EEXIST && strict)
			process_fail("symlink %s: %s", path, strerror(errno));
	}
	snprintf(path, sizeof path, ROOT_MOUNT "/dev/shm");
	if (mkdir(path, 01777) == 0)
		chmod(path, 01777);
	else if (errno != EEXIST && strict)
		process_fail("mkdir %s: %s", path, strerror(errno));
}

static void mask_path(const char *p)
{
	char path[4096];
	struct stat st;
	in_root(path, sizeof path, p);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		process_fail("mask %s: %s", p, strerror(errno));
	}
	/* Directories get an empty read-only tmpfs, anything else the agent's /dev/null
	 * (devtmpfs, present whether or not the container has a /dev). */
	int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL)
				    : mount("/dev/null", path, NULL, MS_BIND, NULL);
	if (r < 0)
		process_fail("mask %s: %s", p, strerror(errno));
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
		process_fail("readonly %s: %s", p, strerror(errno));
	}
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(path), NULL) < 0)
		process_fail("readonly %s: %s", p, strerror(errno));
}

struct child_fds {
	int in_r, out_w, err_w, start_r;
	int tty_sock; /* with p->tty: where the pty master goes; else -1 */
};

__attribute__((noreturn)) static void child_main(const struct plan *p, const struct child_fds *f)
{
	/* First, so that everything the container ever starts is under its limits. Its
	 * cgroup namespace is made here, not by ns_fork, to be rooted at that cgroup. */
	if (cgroup_enter(p->clone_flags & CLONE_NEWCGROUP) < 0)
		process_fail("join the container's cgroup: %s", strerror(errno));
	process_reset_signals();
	/* dup2 clears CLOEXEC on 0..2; every other agent fd is CLOEXEC and goes at exec.
	 * With a terminal, 0..2 become the pty once the container's /dev is in place. */
	if (!p->tty && (dup2(f->in_r, 0) < 0 || dup2(f->out_w, 1) < 0 || dup2(f->err_w, 2) < 0))
		process_fail("dup2 stdio: %s", strerror(errno));
	setsid();

	/* The namespaces were made by ns_fork (container_create). The network one is the
	 * VM's own (the VM is the container's network namespace), whose lo starts down;
	 * runc brings lo up in a new network namespace, so this does too. */
	if (ns_loopback_up() < 0)
		process_fail("bring up lo: %s", strerror(errno));
	/* Through the agent's /proc, before the container's mounts can hide or shadow it;
	 * oom_score_adj before the uid change, since lowering it needs privilege. */
	for (size_t i = 0; i < p->nsysctls; i++)
		if (sysctl_write(p->sysctls[i]) < 0)
			process_fail("sysctl %s: %s", p->sysctls[i], strerror(errno));
	if (p->has_oom && oom_score_adj_write(p->oom_score_adj) < 0)
		process_fail("write oom_score_adj: %s", strerror(errno));
	/* For the user namespace's map writer (ns_enter_user), through the agent's /proc:
	 * the container's may not exist or may be another PID namespace's. */
	int procdir = -1;
	if (p->userns && (procdir = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		process_fail("open /proc/self: %s", strerror(errno));
	/* Nothing done below may propagate back to the agent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		process_fail("make / private: %s", strerror(errno));
	/* The root disk is mounted here, in the child's namespace, so the agent's own
	 * never shows it; the agent holds that namespace (container_hold_mounts), so the
	 * container's end does not wait for its unmounting. It is mounted read-write so
	 * mount points and /dev nodes can be made; rootro is applied last. */
	if (mkdir_p(ROOT_MOUNT, 0755) < 0)
		process_fail("mkdir %s: %s", ROOT_MOUNT, strerror(errno));
	if (mount(ROOT_DEVICE, ROOT_MOUNT, "ext4", 0, NULL) < 0)
		process_fail("mount root %s: %s", ROOT_DEVICE, strerror(errno));

	for (size_t i = 0; i < p->nshares; i++) {
		char dir[4096];
		snprintf(dir, sizeof dir, SHARE_DIR "/%s", p->shares[i]);
		if (mkdir_p(dir, 0755) < 0)
			process_fail("mkdir %s: %s", dir, strerror(errno));
		if (mount(p->shares[i], dir, "9p", 0, "trans=virtio,version=9p2000.L") < 0)
			process_fail("mount 9p share %s: %s", p->shares[i], strerror(errno));
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
			process_fail("device %s: %s: %s", p->devices[i].path, what, strerror(errno));
	}
	for (size_t i = 0; i < p->nmasked; i++)
		mask_path(p->masked[i]);
	for (size_t i = 0; i < p->nreadonly; i++)
		readonly_path(p->readonly[i]);

	/* switch_root, not pivot_root: the initramfs root (rootfs) cannot be pivoted away,
	 * but it can be shadowed by moving the new root onto / and chrooting into it. */
	if (chdir(ROOT_MOUNT) < 0)
		process_fail("chdir %s: %s", ROOT_MOUNT, strerror(errno));
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		process_fail("move root: %s", strerror(errno));
	if (chroot(".") < 0 || chdir("/") < 0)
		process_fail("chroot: %s", strerror(errno));
	if (p->rootro && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		process_fail("remount root read-only: %s", strerror(errno));
	/* Last, on the root as it now is (runc: after pivot_root): an unbindable root made
	 * earlier would refuse the bind mounts of readonlyPaths. */
	if (p->rootprop && mount(NULL, "/", NULL, p->rootprop, NULL) < 0)
		process_fail("set propagation of the root: %s", strerror(errno));

	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
		process_fail("sethostname: %s", strerror(errno));
	/* The user namespace last, once everything that needs the guest's root is done:
	 * the mounts (ext4, 9p, mknod need it), the hostname, and the rlimits, whose hard
	 * limits cannot be raised from inside (runc sets them from outside, with prlimit).
	 * The terminal is taken inside, so its owner is the process's uid as mapped. */
	if (p->userns) {
		const char *what;
		process_set_rlimits(p);
		if (ns_enter_user(p, procdir, &what) < 0)
			process_fail("%s: %s", what, strerror(errno));
		close(procdir);
	}
	if (p->tty)
		process_take_tty(p, f->tty_sock);
	char exe[4096];
	process_prepare(p, exe, sizeof exe);

	/* Setup done: say so, and close the status pipe so the agent sees EOF. */
	process_report_ok();

	char go;
	ssize_t n;
	do
		n = read(f->start_r, &go, 1);
	while (n < 0 && errno == EINTR);
	/* EOF without a byte: the agent gave up on this container. */
	if (n != 1)
		_exit(1);
	close(f->start_r);
	process_exec(p, exe);
}

void container_init(struct container *c)
{
	c->pid = 0;
	proc_stdio_init(&c->io);
	c->start_fd = -1;
	c->exited = 0;
	c->status = 0;
}

void container_reset(struct container *c)
{
	proc_stdio_close(&c->io);
	if (c->start_fd >= 0)
		close(c->start_fd);
	container_init(c);
}

int container_create(const struct plan *p, struct container *c, char *err, size_t errlen)
{
	struct spawn sp;
	int go[2] = { -1, -1 };
	if (spawn_open(&sp, p->tty, err, errlen) < 0)
		return -1;
	if (pipe2(go, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		spawn_close(&sp);
		return -1;
	}
	/* A mount namespace always: the container's root and mounts must not show in
	 * the agent's. */
	pid_t pid = ns_fork((p->clone_flags & ~CLONE_NEWCGROUP) | CLONE_NEWNS);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		spawn_close(&sp);
		close(go[0]);
		close(go[1]);
		return -1;
	}
	if (pid == 0) {
		spawn_child(&sp);
		close(go[1]);
		struct child_fds f = { sp.in[0], sp.out[1], sp.er[1], go[0], sp.sock[1] };
		child_main(p, &f);
	}
	close(go[0]);
	if (spawn_finish(&sp, pid, &c->io, err, errlen) < 0) {
		close(go[1]);
		return -1;
	}
	c->pid = pid;
	c->start_fd = go[1];
	c->exited = 0;
	return 0;
}

int container_hold_mounts(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int container_start(struct container *c)
{
	char go = 's';
	ssize_t n;
	do
		n = write(c->start_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	close(c->start_fd);
	c->start_fd = -1;
	return n == 1 ? 0 : -1;
}
