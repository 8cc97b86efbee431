/* runx-native.c — the few things runx needs that Node cannot do itself: terminals
 * (allocate a pty pair, make one the controlling terminal, window sizes, raw mode) and
 * passing a file descriptor over an AF_UNIX socket with SCM_RIGHTS, which is how the
 * OCI --console-socket contract hands the pty master to containerd's shim, and setns
 * of the calling (main) thread, which a keeper in a container's network namespace needs
 * to reach another host during a migration. N-API, so
 * the one build works with any Node >= 18 without node-gyp or Node's own headers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <node_api.h>

/* Throws Error("<what>: <strerror>"); returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, const char *what)
{
	char msg[256];
	int e = errno;
	snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
	napi_throw_error(env, NULL, msg);
	return NULL;
}

static int arg_int(napi_env env, napi_callback_info info, size_t n, int32_t *out)
{
	size_t argc = 4;
	napi_value argv[4];
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc <= n ||
	    napi_get_value_int32(env, argv[n], out) != napi_ok) {
		napi_throw_type_error(env, NULL, "expected an integer argument");
		return -1;
	}
	return 0;
}

static int arg_path(napi_env env, napi_callback_info info, size_t n, struct sockaddr_un *sa)
{
	size_t argc = 4, len;
	napi_value argv[4];
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc <= n ||
	    napi_get_value_string_utf8(env, argv[n], sa->sun_path, sizeof sa->sun_path, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "expected a socket path");
		return -1;
	}
	if (len >= sizeof sa->sun_path - 1) {
		napi_throw_range_error(env, NULL, "socket path too long");
		return -1;
	}
	return 0;
}

static napi_value make_int(napi_env env, int64_t v)
{
	napi_value r;
	napi_create_int64(env, v, &r);
	return r;
}

/* openpty() -> { master, slave, path }; both fds CLOEXEC. */
static napi_value js_openpty(napi_env env, napi_callback_info info)
{
	(void)info;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return throw_errno(env, "posix_openpt");
	char name[128];
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
		napi_value r = throw_errno(env, "unlock pty");
		close(m);
		return r;
	}
	int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		napi_value r = throw_errno(env, "open pty slave");
		close(m);
		return r;
	}
	napi_value obj, str;
	napi_create_object(env, &obj);
	napi_set_named_property(env, obj, "master", make_int(env, m));
	napi_set_named_property(env, obj, "slave", make_int(env, s));
	napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &str);
	napi_set_named_property(env, obj, "path", str);
	return obj;
}

/* sendFd(socketPath, fd, name): connects, sends name as the data and fd as
 * SCM_RIGHTS in one message (runc sends the pty's path the same way), closes. */
static napi_value js_send_fd(napi_env env, napi_callback_info info)
{
	struct sockaddr_un sa;
	int32_t fd;
	size_t argc = 3, nlen = 0;
	napi_value argv[3];
	char name[256] = "";
	if (arg_path(env, info, 0, &sa) < 0 || arg_int(env, info, 1, &fd) < 0)
		return NULL;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc > 2)
		napi_get_value_string_utf8(env, argv[2], name, sizeof name, &nlen);
	if (nlen == 0)
		name[nlen++] = '/';
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return throw_errno(env, "socket");
	if (connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0) {
		napi_value r = throw_errno(env, "connect");
		close(sock);
		return r;
	}
	struct iovec iov = { name, nlen };
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
	if (n < 0) {
		napi_value r = throw_errno(env, "sendmsg");
		close(sock);
		return r;
	}
	close(sock);
	return NULL;
}

/* receiveFd(socketPath): listens at the path, accepts one connection and returns the
 * fd it carries; blocking. For tests and tools standing in for containerd's shim. */
static napi_value js_receive_fd(napi_env env, napi_callback_info info)
{
	struct sockaddr_un sa;
	if (arg_path(env, info, 0, &sa) < 0)
		return NULL;
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		return throw_errno(env, "socket");
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0) {
		napi_value r = throw_errno(env, "listen");
		close(ls);
		return r;
	}
	int s;
	do
		s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	while (s < 0 && errno == EINTR);
	close(ls);
	if (s < 0)
		return throw_errno(env, "accept");
	char data[256];
	struct iovec iov = { data, sizeof data };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof u.buf };
	ssize_t n;
	do
		n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	close(s);
	if (n < 0)
		return throw_errno(env, "recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS) {
		napi_throw_error(env, NULL, "the message carried no file descriptor");
		return NULL;
	}
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return make_int(env, fd);
}

/* makeControllingTty(fd): a new session (unless already its leader) whose controlling
 * terminal is fd, so the kernel sends us SIGWINCH when its size changes. */
static napi_value js_make_ctty(napi_env env, napi_callback_info info)
{
	int32_t fd;
	if (arg_int(env, info, 0, &fd) < 0)
		return NULL;
	if (setsid() < 0 && errno != EPERM)
		return throw_errno(env, "setsid");
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		return throw_errno(env, "TIOCSCTTY");
	return NULL;
}

/* getWinsize(fd) -> { rows, cols } */
static napi_value js_get_winsize(napi_env env, napi_callback_info info)
{
	int32_t fd;
	if (arg_int(env, info, 0, &fd) < 0)
		return NULL;
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return throw_errno(env, "TIOCGWINSZ");
	napi_value obj;
	napi_create_object(env, &obj);
	napi_set_named_property(env, obj, "rows", make_int(env, ws.ws_row));
	napi_set_named_property(env, obj, "cols", make_int(env, ws.ws_col));
	return obj;
}

/* setWinsize(fd, rows, cols) */
static napi_value js_set_winsize(napi_env env, napi_callback_info info)
{
	int32_t fd, rows, cols;
	if (arg_int(env, info, 0, &fd) < 0 || arg_int(env, info, 1, &rows) < 0 ||
	    arg_int(env, info, 2, &cols) < 0)
		return NULL;
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
		return throw_errno(env, "TIOCSWINSZ");
	return NULL;
}

/* setRaw(fd): no echo, no line editing, no signals from keys: bytes pass through
 * untouched, for the guest's own terminal to interpret. */
static napi_value js_set_raw(napi_env env, napi_callback_info info)
{
	int32_t fd;
	if (arg_int(env, info, 0, &fd) < 0)
		return NULL;
	struct termios t;
	if (tcgetattr(fd, &t) < 0)
		return throw_errno(env, "tcgetattr");
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return throw_errno(env, "tcsetattr");
	return NULL;
}

/* setns(fd): the calling thread (Node's main thread, the one that makes sockets and
 * spawns children) joins the network namespace fd refers to. Only CLONE_NEWNET is
 * allowed, which a multithreaded process may change per thread. */
static napi_value js_setns(napi_env env, napi_callback_info info)
{
	int32_t fd;
	if (arg_int(env, info, 0, &fd) < 0)
		return NULL;
	if (setns(fd, CLONE_NEWNET) < 0)
		return throw_errno(env, "setns");
	return NULL;
}

/* The calling thread enters the cgroup namespace open at fd, or a new one (fd < 0)
 * rooted at its cgroup. Per thread, as setns(2) and unshare(2) are for this type: the
 * keeper calls it on its main thread, whose namespaces /proc/<pid>/ns shows and which
 * forks QEMU. */
static napi_value js_cgroupns(napi_env env, napi_callback_info info)
{
	int32_t fd;
	if (arg_int(env, info, 0, &fd) < 0)
		return NULL;
	if (fd >= 0 ? setns(fd, CLONE_NEWCGROUP) : unshare(CLONE_NEWCGROUP))
		return throw_errno(env, fd >= 0 ? "setns" : "unshare");
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback fn;
	} fns[] = {
		{ "openpty", js_openpty },         { "sendFd", js_send_fd },
		{ "receiveFd", js_receive_fd },    { "makeControllingTty", js_make_ctty },
		{ "getWinsize", js_get_winsize },  { "setWinsize", js_set_winsize },
		{ "setRaw", js_set_raw },          { "setNetns", js_setns },
		{ "enterCgroupns", js_cgroupns },
	};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		napi_value f;
		napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
		napi_set_named_property(env, exports, fns[i].name, f);
	}
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
