/* main.c — owns the agent's event loop: the host connection state of the virtio-serial
 * port, dispatch of host frames, stdio relaying, reaping, and the `exit` report.
 * PID 1 of the guest; see docs/protocol/agent.md for the protocol. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "container.h"
#include "frame.h"
#include "plan.h"
#include "relay.h"
#include "vmsetup.h"

#define AGENT_VERSION "runx-agent/0.1"
/* While the host end is gone, POLLHUP is permanent; look again this often. */
#define RECONNECT_POLL_MS 50
/* Above this much unwritten stdin, stop reading the port: the host then blocks on its
 * socket, which is the backpressure a `cat big | container` pipeline needs. */
#define STDIN_HIGH_WATER (16u * 1024 * 1024)

struct agent {
	int port;
	int connected; /* the host end of the port is open */
	int64_t parked_until; /* while disconnected: don't poll the port before this */
	struct frame_reader rd;
	int sigfd;
	struct container c;
	struct relay_buf in;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A failed write to the port is not recoverable: writes block while the host is away
 * instead of failing, so an error here means the device itself is gone. */
static void send_ctl(struct agent *a, const struct ctl_out *o)
{
	if (ctl_send(a->port, o) < 0)
		fatal("write to agent port: %s", strerror(errno));
}

static void reply_error(struct agent *a, const char *id, const char *msg)
{
	struct ctl_out o;
	ctl_begin(&o, MSG_ERROR);
	if (id)
		ctl_add(&o, KEY_ID, id);
	ctl_add(&o, KEY_MSG, msg);
	send_ctl(a, &o);
}

static void reply_id(struct agent *a, const char *name, const char *id)
{
	struct ctl_out o;
	ctl_begin(&o, name);
	ctl_add(&o, KEY_ID, id);
	send_ctl(a, &o);
}

static void send_hello(struct agent *a)
{
	struct ctl_out o;
	ctl_begin(&o, MSG_HELLO);
	ctl_addu(&o, KEY_PROTO, PROTO_VERSION);
	ctl_add(&o, KEY_AGENT, AGENT_VERSION);
	send_ctl(a, &o);
}

/* A container that is set up or running, as opposed to none or one that has ended. */
static int container_live(const struct agent *a)
{
	return a->c.pid > 0 && !a->c.exited;
}

static void handle_create(struct agent *a, const struct ctl_msg *m, const char *id)
{
	char err[1100];
	struct plan p;
	if (a->c.pid > 0) {
		reply_error(a, id, "create: a container already exists in this VM");
		return;
	}
	if (vm_setup(m, err, sizeof err) < 0 || plan_parse(m, &p, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	int r = container_create(&p, &a->c, err, sizeof err);
	plan_free(&p);
	if (r < 0) {
		reply_error(a, id, err);
		return;
	}
	struct ctl_out o;
	ctl_begin(&o, MSG_CREATED);
	ctl_add(&o, KEY_ID, id);
	ctl_addu(&o, KEY_PID, (uint64_t)a->c.pid);
	send_ctl(a, &o);
}

static void handle_start(struct agent *a, const char *id)
{
	if (!container_live(a)) {
		reply_error(a, id, "start: no container created");
		return;
	}
	if (a->c.start_fd < 0) {
		reply_error(a, id, "start: container already started");
		return;
	}
	if (container_start(&a->c) < 0) {
		reply_error(a, id, "start: the container process is gone");
		return;
	}
	reply_id(a, MSG_STARTED, id);
}

static void handle_kill(struct agent *a, const struct ctl_msg *m, const char *id)
{
	uint64_t sig;
	const char *all = ctl_get(m, KEY_ALL);
	if (parse_u64(ctl_get(m, KEY_SIGNAL), &sig) < 0 || sig == 0 || sig >= NSIG) {
		reply_error(a, id, "kill: bad or missing signal");
		return;
	}
	if (!container_live(a)) {
		reply_error(a, id, "kill: no container process to signal");
		return;
	}
	/* From PID 1, kill(-1) reaches every process but ourselves: the whole container,
	 * since nothing else runs in the VM. */
	pid_t target = (all && strcmp(all, "1") == 0) ? -1 : a->c.pid;
	if (kill(target, (int)sig) < 0) {
		char err[128];
		snprintf(err, sizeof err, "kill: %s", strerror(errno));
		reply_error(a, id, err);
		return;
	}
	reply_id(a, MSG_OK, id);
}

static void handle_control(struct agent *a, struct frame *f)
{
	struct ctl_msg m;
	const char *err;
	if (ctl_decode(f->payload, f->len, &m, &err) < 0) {
		logmsg("protocol error: %s", err);
		reply_error(a, NULL, err);
		return;
	}
	const char *id = ctl_get(&m, KEY_ID);
	uint64_t idv;
	if (strcmp(m.name, MSG_SHUTDOWN) == 0) {
		ctl_msg_free(&m);
		vm_shutdown();
	}
	if (id && parse_u64(id, &idv) < 0) {
		logmsg("protocol error: %s with bad id", m.name);
		reply_error(a, NULL, "bad id");
	} else if (!id) {
		logmsg("protocol error: %s without id", m.name);
		reply_error(a, NULL, "request without id");
	} else if (strcmp(m.name, MSG_CREATE) == 0) {
		handle_create(a, &m, id);
	} else if (strcmp(m.name, MSG_START) == 0) {
		handle_start(a, id);
	} else if (strcmp(m.name, MSG_KILL) == 0) {
		handle_kill(a, &m, id);
	} else if (strcmp(m.name, MSG_PING) == 0) {
		reply_id(a, MSG_OK, id);
	} else {
		logmsg("protocol error: unknown message %.64s", m.name);
		char msg[128];
		snprintf(msg, sizeof msg, "unknown message %.64s", m.name);
		reply_error(a, id, msg);
	}
	ctl_msg_free(&m);
}

static void handle_stdin(struct agent *a, const struct frame *f)
{
	/* Input for a container that has ended goes nowhere. Before create it is kept:
	 * the host may send stdin before the process exists. */
	if (a->c.exited)
		return;
	/* The process closed its stdin (EPIPE) before the host sent EOF: not an error. */
	if (a->c.pid > 0 && a->c.stdin_fd < 0 && !a->in.eof)
		return;
	if (a->in.eof) {
		logmsg("protocol error: stdin after EOF");
		return;
	}
	if (f->len == 0)
		a->in.eof = 1;
	else if (relay_buf_append(&a->in, f->payload, f->len) < 0)
		fatal("stdin buffer: out of memory");
}

static void port_readable(struct agent *a)
{
	ssize_t n = frame_reader_fill(&a->rd, a->port);
	if (n < 0)
		fatal("read from agent port: %s", strerror(errno));
	if (n == 0) {
		/* EOF on a virtio port means the host end closed. */
		if (a->connected)
			logmsg("host disconnected");
		a->connected = 0;
		a->parked_until = now_ms() + RECONNECT_POLL_MS;
		frame_reader_reset(&a->rd);
		return;
	}
	struct frame f;
	const char *err;
	int r;
	while ((r = frame_reader_next(&a->rd, &f, &err)) != 0) {
		if (r < 0) {
			logmsg("protocol error: %s; dropping buffered input", err);
			break;
		}
		if (f.type == FRAME_CONTROL)
			handle_control(a, &f);
		else if (f.type == FRAME_STDIN)
			handle_stdin(a, &f);
		else
			logmsg("protocol error: frame type %d from host", f.type);
	}
}

/* Reaps every child: PID 1 inherits all orphans. Notes the container's end and kills
 * the rest of it, as the end of its PID namespace would. */
static void reap(struct agent *a)
{
	struct signalfd_siginfo si;
	/* signalfd coalesces SIGCHLDs, so the reads only clear it; waitpid finds them all. */
	while (read(a->sigfd, &si, sizeof si) == sizeof si)
		;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != a->c.pid || a->c.exited)
			continue;
		a->c.exited = 1;
		a->c.status = status;
		kill(-1, SIGKILL);
		/* Output is still drained to EOF; input has no reader left. */
		if (a->c.stdin_fd >= 0) {
			close(a->c.stdin_fd);
			a->c.stdin_fd = -1;
		}
		relay_buf_clear(&a->in);
		if (a->c.start_fd >= 0) {
			close(a->c.start_fd);
			a->c.start_fd = -1;
		}
	}
}

static void pump(struct agent *a, int *fd, int type)
{
	int port_failed;
	ssize_t n = relay_pump(*fd, a->port, type, &port_failed);
	if (n < 0 && port_failed)
		fatal("write to agent port: %s", strerror(errno));
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

/* try_write: poll said the pipe is writable, or we did not ask (new data may have
 * arrived since); skips a write(2) that would only say EAGAIN. */
static void stdin_maintain(struct agent *a, int try_write)
{
	if (a->c.stdin_fd < 0)
		return;
	if (try_write && relay_buf_pending(&a->in) > 0 &&
	    relay_buf_flush(&a->in, a->c.stdin_fd) < 0) {
		/* EPIPE: the process closed its stdin; what it did not read, and what the
		 * host still sends (see handle_stdin), is dropped. */
		int eof = a->in.eof;
		relay_buf_clear(&a->in);
		a->in.eof = eof;
		close(a->c.stdin_fd);
		a->c.stdin_fd = -1;
		return;
	}
	if (a->in.eof && relay_buf_pending(&a->in) == 0) {
		close(a->c.stdin_fd);
		a->c.stdin_fd = -1;
	}
}

/* Sends `exit` once every output byte has gone out, then forgets the container. */
static void maybe_report_exit(struct agent *a)
{
	if (!a->connected || a->c.pid <= 0 || !a->c.exited || a->c.stdout_fd >= 0 ||
	    a->c.stderr_fd >= 0)
		return;
	struct ctl_out o;
	ctl_begin(&o, MSG_EXIT);
	if (WIFSIGNALED(a->c.status))
		ctl_addu(&o, KEY_SIGNAL, (uint64_t)WTERMSIG(a->c.status));
	else
		ctl_addu(&o, KEY_CODE, (uint64_t)WEXITSTATUS(a->c.status));
	send_ctl(a, &o);
	container_reset(&a->c);
	relay_buf_clear(&a->in);
}

static void loop(struct agent *a)
{
	for (;;) {
		struct pollfd pfd[5];
		int n = 0, ip = -1, is, io = -1, ie = -1, ii = -1;
		int timeout = -1;

		if (!a->connected && now_ms() < a->parked_until) {
			/* Host away: poll would report POLLHUP at once, forever. Sleep instead. */
			timeout = (int)(a->parked_until - now_ms());
		} else {
			ip = n;
			int want_in = relay_buf_pending(&a->in) < STDIN_HIGH_WATER;
			pfd[n++] = (struct pollfd){ a->port, want_in ? POLLIN : 0, 0 };
			/* Probing a disconnected port: a poll without POLLHUP means it is back. */
			if (!a->connected)
				timeout = 0;
		}
		is = n;
		pfd[n++] = (struct pollfd){ a->sigfd, POLLIN, 0 };
		/* Output only while connected, so a reconnecting host gets hello first. */
		if (a->connected && a->c.stdout_fd >= 0) {
			io = n;
			pfd[n++] = (struct pollfd){ a->c.stdout_fd, POLLIN, 0 };
		}
		if (a->connected && a->c.stderr_fd >= 0) {
			ie = n;
			pfd[n++] = (struct pollfd){ a->c.stderr_fd, POLLIN, 0 };
		}
		if (a->c.stdin_fd >= 0 && relay_buf_pending(&a->in) > 0) {
			ii = n;
			pfd[n++] = (struct pollfd){ a->c.stdin_fd, POLLOUT, 0 };
		}

		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}

		if (ip >= 0) {
			short re = pfd[ip].revents;
			if (!a->connected && !(re & POLLHUP)) {
				a->connected = 1;
				frame_reader_reset(&a->rd);
				send_hello(a);
			}
			if (re & POLLIN)
				port_readable(a);
			else if (re & (POLLHUP | POLLERR)) {
				if (a->connected)
					logmsg("host disconnected");
				a->connected = 0;
				a->parked_until = now_ms() + RECONNECT_POLL_MS;
				frame_reader_reset(&a->rd);
			}
		}
		if (pfd[is].revents & POLLIN)
			reap(a);
		if (io >= 0 && pfd[io].revents && a->c.stdout_fd >= 0)
			pump(a, &a->c.stdout_fd, FRAME_STDOUT);
		if (ie >= 0 && pfd[ie].revents && a->c.stderr_fd >= 0)
			pump(a, &a->c.stderr_fd, FRAME_STDERR);
		stdin_maintain(a, ii < 0 || pfd[ii].revents != 0);
		maybe_report_exit(a);
	}
}

int main(void)
{
	static struct agent a;

	if (boot_init() < 0)
		fatal("boot: %s", strerror(errno));
	/* Writes to a child's stdin after it exited must fail with EPIPE, not kill PID 1. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	/* Blocked before any fork, so no SIGCHLD is lost between fork and the signalfd. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		fatal("sigprocmask: %s", strerror(errno));
	a.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a.sigfd < 0)
		fatal("signalfd: %s", strerror(errno));

	char err[256];
	a.port = boot_open_port(err, sizeof err);
	if (a.port < 0)
		fatal("%s", err);
	if (frame_reader_init(&a.rd) < 0)
		fatal("frame buffer: out of memory");
	container_init(&a.c);
	relay_buf_init(&a.in);
	/* Start as disconnected: the first poll that sees no POLLHUP means the host end is
	 * open, and hello goes out then (and again on every reconnect). */
	a.connected = 0;
	a.parked_until = 0;
	loop(&a);
	return 0;
}
