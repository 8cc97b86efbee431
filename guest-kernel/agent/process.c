/* process.c — owns the steps shared by the container's process and exec'd processes
 * (see process.h). */
#include "process.h"
#include "caps.h"
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int process_status_fd = -1;

void process_fail(const char *fmt, ...)
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
	if (write(process_status_fd, buf, (size_t)n + 1) < 0) {
		/* Nothing left to tell: the agent sees EOF and a generic error. */
	}
	_exit(1);
}

void process_reset_signals(void)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
}

int fd_send(int sock, int fd)
{
	char byte = 't';
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof u.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int fd_recv(int sock)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof u.buf };
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EPROTO;
		return -1;
	}
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

void process_take_tty(const struct plan *p, int sock)
{
	/* The container's own devpts instance, as runc uses: the slave then has a name
	 * (/dev/pts/N) that resolves inside the container, for tty(1) and ttyname(3). */
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		process_fail("open /dev/ptmx in the container: %s", strerror(errno));
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		process_fail("unlock pty: %s", strerror(errno));
	/* TIOCGPTPEER opens the peer of this very master, whatever the mount layout. */
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (s < 0)
		process_fail("open pty slave: %s", strerror(errno));
	if (p->rows && p->cols) {
		struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
		ioctl(m, TIOCSWINSZ, &ws);
	}
	/* runc makes the process's uid the owner of its terminal, so it can chmod it. */
	if (fchown(s, p->uid, (gid_t)-1) < 0)
		process_fail("chown pty slave: %s", strerror(errno));
	if (fd_send(sock, m) < 0)
		process_fail("send pty to the agent: %s", strerror(errno));
	close(m);
	close(sock);
	if (setsid() < 0 && errno != EPERM)
		process_fail("setsid: %s", strerror(errno));
	if (ioctl(s, TIOCSCTTY, 0) < 0)
		process_fail("set controlling terminal: %s", strerror(errno));
	if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
		process_fail("dup2 pty: %s", strerror(errno));
	if (s > 2)
		close(s);
}

static int is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Resolves argv[0] the way the OCI runtimes do: as is when it has a '/', else through
 * PATH from the process's env (not the agent's). */
static void resolve_exe(const struct plan *p, char *out, size_t outlen)
{
	const char *name = p->args[0];
	if (strchr(name, '/')) {
		struct stat st;
		if (stat(name, &st) < 0)
			process_fail("exec: \"%s\": stat %s: %s", name, name, strerror(errno));
		if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0)
			process_fail("exec: \"%s\": permission denied", name);
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
	process_fail("exec: \"%s\": executable file not found in $PATH", name);
}

void process_set_rlimits(const struct plan *p)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			process_fail("setrlimit %d: %s", p->rlimits[i].resource, strerror(errno));
	}
}

void process_prepare(const struct plan *p, char *exe, size_t exelen)
{
	process_set_rlimits(p);
	/* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which the uid
	 * change may take away: install it now (runc's order). With it, install it as late
	 * as possible, just before execve. */
	if (p->seccomp && !p->nnp && seccomp_install(p->seccomp, p->seccomp_len, p->seccomp_flags) < 0)
		process_fail("install seccomp filter: %s", strerror(errno));
	if (p->has_caps && caps_before_setuid(p->cap_bounding) < 0)
		process_fail("drop bounding capabilities: %s", strerror(errno));
	/* Groups, then gid, then uid: after setuid there is no privilege left to change
	 * the other two. */
	if (setgroups(p->ngroups, p->groups) < 0)
		process_fail("setgroups: %s", strerror(errno));
	if (setgid(p->gid) < 0)
		process_fail("setgid %u: %s", (unsigned)p->gid, strerror(errno));
	if (setuid(p->uid) < 0)
		process_fail("setuid %u: %s", (unsigned)p->uid, strerror(errno));
	if (p->has_caps) {
		const char *what;
		if (caps_after_setuid(p->cap_effective, p->cap_permitted, p->cap_inheritable,
				      p->cap_ambient, &what) < 0)
			process_fail("%s: %s", what, strerror(errno));
	}
	umask(p->umask);
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		process_fail("prctl no_new_privs: %s", strerror(errno));
	if (chdir(p->cwd) < 0)
		process_fail("chdir to cwd (\"%s\") set in config.json failed: %s", p->cwd,
			     strerror(errno));
	resolve_exe(p, exe, exelen);
}

void process_report_ok(void)
{
	char ok = STATUS_OK;
	if (write(process_status_fd, &ok, 1) != 1)
		_exit(1);
	close(process_status_fd);
	process_status_fd = -1;
}

void process_exec(const struct plan *p, const char *exe)
{
	if (p->seccomp && p->nnp && seccomp_install(p->seccomp, p->seccomp_len, p->seccomp_flags) < 0) {
		dprintf(2, "install seccomp filter: %s\n", strerror(errno));
		_exit(127);
	}
	execve(exe, p->args, p->env);
	dprintf(2, "exec %s: %s\n", exe, strerror(errno));
	_exit(127);
}
