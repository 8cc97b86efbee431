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
#include "carry.h"
#include "cgroup.h"
#include "container.h"
#include "credit.h"
#include "exec.h"
#include "frame.h"
#include "plan.h"
#include "dns.h"
#include "ps.h"
#include "relay.h"
#include "vmsetup.h"

#define AGENT_VERSION "runx-agent/0.1"
/* While the host end is gone, POLLHUP is permanent; look again this often. */
#define RECONNECT_POLL_MS 50

struct agent {
	int port;
	int connected; /* the host end of the port is open */
	int64_t parked_until; /* while disconnected: don't poll the port before this */
	struct frame_reader rd;
	int sigfd;
	struct container c;
	int held_mnt_ns; /* the last container's mount namespace (container_hold_mounts), or -1 */
	int dns_fd; /* the DNS relay's socket (dns.h), or -1 */
	struct relay_buf in;
	/* The container's stdin read since boot, EOF counting 1 (agent.md, "Stdin across
	 * a migration"): in guest memory, so it moves with the VM. */
	uint64_t stdin_rx;
	struct exec_proc execs[EXEC_MAX];
	/* Between `freeze` and `thaw`: the container's processes are stopped, and nothing of
	 * theirs goes to the host (output, ends): what they wrote and did stays in the VM,
	 * in the image a checkpoint saves of it, and reaches the host after `thaw`. */
	int frozen;
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

/* dns.c's callback for a query read from a TCP connection. */
static void send_dns(void *ctx, const struct ctl_out *o)
{
	send_ctl(ctx, o);
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

/* The container's stdin bytes the agent holds and has not granted back (buffered, or
 * gone and owed): a host end that is new to this agent (a reconnect, a restore) resumes
 * its credit from this, not from a full window (credit.h). */
static size_t stdin_held(const struct agent *a)
{
	return relay_buf_pending(&a->in) + a->in.owed;
}

static void send_hello(struct agent *a)
{
	struct ctl_out o;
	ctl_begin(&o, MSG_HELLO);
	ctl_addu(&o, KEY_PROTO, PROTO_VERSION);
	ctl_add(&o, KEY_AGENT, AGENT_VERSION);
	ctl_addu(&o, KEY_HELD, stdin_held(a));
	ctl_addu(&o, KEY_RX, a->stdin_rx);
	send_ctl(a, &o);
}

/* The live exec'd process the host numbered num (decimal text), or NULL. */
static struct exec_proc *find_exec(struct agent *a, const char *num)
{
	uint64_t n;
	if (parse_u64(num, &n) < 0 || n == 0)
		return NULL;
	for (size_t i = 0; i < EXEC_MAX; i++)
		if (a->execs[i].num == n)
			return &a->execs[i];
	return NULL;
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
	struct vm_plan vm;
	struct res res;
	if (a->c.pid > 0) {
		reply_error(a, id, "create: a container already exists in this VM");
		return;
	}
	/* The whole request is checked before anything changes: a refused create leaves
	 * the clock, the CRNG, the network and the cgroup as they were. */
	if (plan_parse(m, &p, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	if (vm_parse(m, &vm, err, sizeof err) < 0 || cgroup_parse(m, &res, err, sizeof err) < 0 ||
	    carry_parse(m, err, sizeof err) < 0 ||
	    vm_apply(&vm, err, sizeof err) < 0 || cgroup_create(m->name, &res, err, sizeof err) < 0 ||
	    carry_mount(err, sizeof err) < 0) {
		plan_free(&p);
		reply_error(a, id, err);
		return;
	}
	const char *dns = ctl_get(m, KEY_NET_DNS);
	if (dns && a->dns_fd < 0 && (a->dns_fd = dns_open(dns, err, sizeof err)) < 0)
		logmsg("%s (the container's DNS server is unreachable)", err);
	if (a->held_mnt_ns >= 0) {
		/* A previous container's mounts: unmounted now, with nothing waiting on it. */
		close(a->held_mnt_ns);
		a->held_mnt_ns = -1;
	}
	int r = container_create(&p, &a->c, err, sizeof err);
	plan_free(&p);
	if (r < 0) {
		reply_error(a, id, err);
		return;
	}
	a->held_mnt_ns = container_hold_mounts(a->c.pid);
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
	const char *num = ctl_get(m, KEY_EXEC);
	if (num) {
		struct exec_proc *e = find_exec(a, num);
		if (!e || e->exited) {
			reply_error(a, id, "kill: no such exec'd process");
			return;
		}
		target = e->pid;
	}
	if (kill(target, (int)sig) < 0) {
		char err[128];
		snprintf(err, sizeof err, "kill: %s", strerror(errno));
		reply_error(a, id, err);
		return;
	}
	reply_id(a, MSG_OK, id);
}

static void handle_exec(struct agent *a, const struct ctl_msg *m, const char *id)
{
	char err[1100];
	struct plan p;
	if (!container_live(a)) {
		reply_error(a, id, "exec: the container is not running");
		return;
	}
	if (plan_parse(m, &p, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	const char *refused = p.exec == 0 ? "exec: missing exec number" : NULL;
	struct exec_proc *slot = NULL;
	for (size_t i = 0; i < EXEC_MAX && !refused; i++) {
		if (a->execs[i].num == p.exec)
			refused = "exec: that exec number is in use";
		else if (!slot && a->execs[i].num == 0)
			slot = &a->execs[i];
	}
	if (!refused && !slot)
		refused = "exec: too many exec'd processes";
	if (refused) {
		plan_free(&p);
		reply_error(a, id, refused);
		return;
	}
	int r = exec_start(&p, a->c.pid, slot, err, sizeof err);
	plan_free(&p);
	if (r < 0) {
		reply_error(a, id, err);
		return;
	}
	struct ctl_out o;
	ctl_begin(&o, MSG_EXECD);
	ctl_add(&o, KEY_ID, id);
	ctl_addu(&o, KEY_PID, (uint64_t)slot->pid);
	send_ctl(a, &o);
}

static void handle_resize(struct agent *a, const struct ctl_msg *m, const char *id)
{
	uint64_t rows, cols;
	if (parse_u64(ctl_get(m, KEY_ROWS), &rows) < 0 || parse_u64(ctl_get(m, KEY_COLS), &cols) < 0 ||
	    rows > 0xffff || cols > 0xffff) {
		reply_error(a, id, "resize: bad or missing rows/cols");
		return;
	}
	const struct proc_stdio *io = &a->c.io;
	const char *num = ctl_get(m, KEY_EXEC);
	if (num) {
		struct exec_proc *e = find_exec(a, num);
		if (!e) {
			reply_error(a, id, "resize: no such exec'd process");
			return;
		}
		io = &e->io;
	}
	if (proc_stdio_resize(io, (unsigned)rows, (unsigned)cols) < 0) {
		char err[128];
		snprintf(err, sizeof err, "resize: %s", errno == ENOTTY ? "the process has no terminal" : strerror(errno));
		reply_error(a, id, err);
		return;
	}
	reply_id(a, MSG_OK, id);
}

static void handle_update(struct agent *a, const struct ctl_msg *m, const char *id)
{
	char err[256];
	if (!container_live(a)) {
		reply_error(a, id, "update: the container is not running");
		return;
	}
	if (cgroup_update(m, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	reply_id(a, MSG_OK, id);
}

/* `carry`: copies slots between the carry disk and the host's share (carry.h). */
static void handle_carry(struct agent *a, const struct ctl_msg *m, const char *id)
{
	char err[600];
	uint64_t slots[CARRY_MAX_SLOTS];
	size_t n = 0;
	const char *to = ctl_get(m, KEY_TO);
	if (!to || (strcmp(to, "host") != 0 && strcmp(to, "guest") != 0)) {
		reply_error(a, id, "carry: to must be host or guest");
		return;
	}
	for (size_t i = 0; i < m->nfields; i++) {
		if (strcmp(m->fields[i].key, KEY_SLOT) != 0)
			continue;
		if (n >= CARRY_MAX_SLOTS || parse_u64(m->fields[i].val, &slots[n]) < 0 || slots[n] >= CARRY_MAX_SLOTS) {
			reply_error(a, id, "carry: bad slot");
			return;
		}
		n++;
	}
	const char *back = ctl_get(m, KEY_BACK);
	if (back && strcmp(back, "1") == 0 && strcmp(to, "host") == 0 && n == 0) {
		/* The read-write binds, as at the container's end (a checkpoint's write-back). */
		if (carry_write_back(err, sizeof err) < 0) {
			logmsg("%s", err);
			reply_error(a, id, err);
			return;
		}
	} else if (carry_sync(strcmp(to, "host") == 0, slots, n, m, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	reply_id(a, MSG_OK, id);
}

/* How long `freeze` waits for every task to stop: a task blocked in I/O stops once it
 * returns from the kernel. */
#define FREEZE_TIMEOUT_MS 5000

/* `freeze` / `thaw`: the container's cgroup (cgroup.h), and our relaying of it. */
static void handle_freeze(struct agent *a, int on, const char *id)
{
	char err[256];
	if (cgroup_freeze(on, FREEZE_TIMEOUT_MS, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	a->frozen = on;
	reply_id(a, MSG_OK, id);
}

static void handle_stats(struct agent *a, const char *id)
{
	char err[256];
	struct ctl_out o;
	if (!container_live(a)) {
		reply_error(a, id, "stats: the container is not running");
		return;
	}
	ctl_begin(&o, MSG_USAGE);
	ctl_add(&o, KEY_ID, id);
	if (cgroup_stats(&o, err, sizeof err) < 0) {
		reply_error(a, id, err);
		return;
	}
	send_ctl(a, &o);
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
	if (strcmp(m.name, MSG_DNS_ANSWER) == 0) {
		/* No id: like a datagram, an answer gets no reply. */
		dns_give_answer(a->dns_fd, &m);
		ctl_msg_free(&m);
		return;
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
	} else if (strcmp(m.name, MSG_EXEC) == 0) {
		handle_exec(a, &m, id);
	} else if (strcmp(m.name, MSG_RESIZE) == 0) {
		handle_resize(a, &m, id);
	} else if (strcmp(m.name, MSG_PS) == 0) {
		if (ps_reply(a->port, id) < 0)
			fatal("write to agent port: %s", strerror(errno));
	} else if (strcmp(m.name, MSG_UPDATE) == 0) {
		handle_update(a, &m, id);
	} else if (strcmp(m.name, MSG_STATS) == 0) {
		handle_stats(a, id);
	} else if (strcmp(m.name, MSG_CARRY) == 0) {
		handle_carry(a, &m, id);
	} else if (strcmp(m.name, MSG_FREEZE) == 0 || strcmp(m.name, MSG_THAW) == 0) {
		handle_freeze(a, strcmp(m.name, MSG_FREEZE) == 0, id);
	} else if (strcmp(m.name, MSG_PING) == 0) {
		struct ctl_out o;
		ctl_begin(&o, MSG_OK);
		ctl_add(&o, KEY_ID, id);
		ctl_addu(&o, KEY_HELD, stdin_held(a));
		ctl_addu(&o, KEY_RX, a->stdin_rx);
		send_ctl(a, &o);
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
	/* Every frame read counts, kept or dropped: the host resumes after it. */
	a->stdin_rx += f->len ? f->len : 1;
	/* Input for a container that has ended goes nowhere. Before create it is kept:
	 * the host may send stdin before the process exists. */
	if (a->c.exited)
		return;
	/* The process closed its stdin (EPIPE) before the host sent EOF: not an error.
	 * The bytes are dropped, and granted back, so the host's source is not held up. */
	if (a->c.pid > 0 && a->c.io.in_fd < 0 && !a->in.eof) {
		credit_owe(&a->in, f->len);
		return;
	}
	if (a->in.eof) {
		logmsg("protocol error: stdin after EOF");
		return;
	}
	if (f->len == 0)
		a->in.eof = 1;
	else if (relay_buf_append(&a->in, f->payload, f->len) < 0)
		fatal("stdin buffer: out of memory");
}

static void handle_exec_stdin(struct agent *a, const struct frame *f)
{
	if (f->len < 4) {
		logmsg("protocol error: exec-stdin frame without exec number");
		return;
	}
	uint32_t n = (uint32_t)f->payload[0] << 24 | (uint32_t)f->payload[1] << 16 |
		     (uint32_t)f->payload[2] << 8 | f->payload[3];
	struct exec_proc *e = NULL;
	for (size_t i = 0; i < EXEC_MAX && !e; i++)
		if (n && a->execs[i].num == n)
			e = &a->execs[i];
	/* Input for a process that has ended, or closed its stdin, goes nowhere; for one
	 * still running it is granted back, as in handle_stdin. */
	if (!e || e->exited || e->in.eof)
		return;
	if (e->io.in_fd < 0) {
		credit_owe(&e->in, f->len - 4);
		return;
	}
	if (f->len == 4)
		e->in.eof = 1;
	else if (relay_buf_append(&e->in, f->payload + 4, f->len - 4) < 0)
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
		else if (f.type == FRAME_EXEC_STDIN)
			handle_exec_stdin(a, &f);
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
		for (size_t i = 0; i < EXEC_MAX; i++) {
			struct exec_proc *e = &a->execs[i];
			if (e->num && !e->exited && e->pid == pid) {
				e->exited = 1;
				e->status = status;
				if (e->io.in_fd >= 0)
					close(e->io.in_fd);
				e->io.in_fd = -1;
				relay_buf_clear(&e->in);
			}
		}
		if (pid != a->c.pid || a->c.exited)
			continue;
		a->c.exited = 1;
		a->c.status = status;
		kill(-1, SIGKILL);
		/* Output is still drained to EOF; input has no reader left. */
		if (a->c.io.in_fd >= 0) {
			close(a->c.io.in_fd);
			a->c.io.in_fd = -1;
		}
		relay_buf_clear(&a->in);
		if (a->c.start_fd >= 0) {
			close(a->c.start_fd);
			a->c.start_fd = -1;
		}
	}
}

static void pump(struct agent *a, int *fd, int type, uint32_t exec)
{
	int port_failed;
	ssize_t n = relay_pump(*fd, a->port, type, exec, &port_failed);
	if (n < 0 && port_failed)
		fatal("write to agent port: %s", strerror(errno));
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

/* try_write: poll said the pipe is writable, or we did not ask (new data may have
 * arrived since); skips a write(2) that would only say EAGAIN. */
static void stdin_maintain(int *fd, struct relay_buf *in, int try_write)
{
	if (*fd < 0)
		return;
	size_t before = relay_buf_pending(in);
	if (try_write && before > 0 && relay_buf_flush(in, *fd) < 0) {
		/* EPIPE: the process closed its stdin; what it did not read, and what the
		 * host still sends (see handle_stdin), is dropped, and granted back. */
		int eof = in->eof;
		size_t owed = in->owed + relay_buf_pending(in);
		relay_buf_clear(in);
		in->eof = eof;
		in->owed = owed;
		close(*fd);
		*fd = -1;
		return;
	}
	credit_owe(in, before - relay_buf_pending(in));
	if (in->eof && relay_buf_pending(in) == 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Grants back the stdin that has left the agent (credit.h); only to a connected host,
 * since a write to an absent one blocks. */
static void send_credits(struct agent *a)
{
	if (!a->connected)
		return;
	int r = credit_send_due(a->port, 0, &a->in);
	for (size_t i = 0; i < EXEC_MAX && r == 0; i++)
		if (a->execs[i].num && !a->execs[i].exited)
			r = credit_send_due(a->port, a->execs[i].num, &a->execs[i].in);
	if (r < 0)
		fatal("write to agent port: %s", strerror(errno));
}

/* An ended exec'd process's output: all it wrote is in its pipes once it is reaped,
 * and goes out now; then the pipes are closed. A descendant that still holds them
 * (`sleep 100 &`) does not hold up its end, as it does not hold up runc exec's, which
 * returns when its process exits. */
static void drain_ended(struct agent *a, int *fd, int type, uint32_t exec)
{
	while (*fd >= 0) {
		int port_failed;
		ssize_t n = relay_pump(*fd, a->port, type, exec, &port_failed);
		if (n < 0 && port_failed)
			fatal("write to agent port: %s", strerror(errno));
		if (n <= 0) {
			close(*fd);
			*fd = -1;
		}
	}
}

/* Sends `exec-exit` for each exec'd process that has ended, after its output, then
 * frees its slot. */
static void report_exec_exits(struct agent *a)
{
	if (!a->connected || a->frozen)
		return;
	for (size_t i = 0; i < EXEC_MAX; i++) {
		struct exec_proc *e = &a->execs[i];
		if (!e->num || !e->exited)
			continue;
		drain_ended(a, &e->io.out_fd, FRAME_EXEC_STDOUT, e->num);
		drain_ended(a, &e->io.err_fd, FRAME_EXEC_STDERR, e->num);
		struct ctl_out o;
		ctl_begin(&o, MSG_EXEC_EXIT);
		ctl_addu(&o, KEY_EXEC, e->num);
		if (WIFSIGNALED(e->status))
			ctl_addu(&o, KEY_SIGNAL, (uint64_t)WTERMSIG(e->status));
		else
			ctl_addu(&o, KEY_CODE, (uint64_t)WEXITSTATUS(e->status));
		send_ctl(a, &o);
		exec_forget(e);
	}
}

static int execs_left(const struct agent *a)
{
	for (size_t i = 0; i < EXEC_MAX; i++)
		if (a->execs[i].num)
			return 1;
	return 0;
}

/* Sends `exit` once every output byte has gone out, then forgets the container. */
static void maybe_report_exit(struct agent *a)
{
	/* The exec'd processes were killed with the container; their ends go first, since
	 * the host ends the VM on `exit`. */
	if (!a->connected || a->frozen || a->c.pid <= 0 || !a->c.exited || a->c.io.out_fd >= 0 ||
	    a->c.io.err_fd >= 0 || execs_left(a))
		return;
	/* The container's writes to its carried mounts reach the host before its end is
	 * reported: an engine reads a volume once its container has stopped. */
	char err[600];
	int carried = carry_write_back(err, sizeof err);
	if (carried < 0)
		logmsg("%s", err);
	struct ctl_out o;
	ctl_begin(&o, MSG_EXIT);
	if (carried < 0)
		ctl_add(&o, KEY_CARRY_ERROR, err);
	if (WIFSIGNALED(a->c.status))
		ctl_addu(&o, KEY_SIGNAL, (uint64_t)WTERMSIG(a->c.status));
	else
		ctl_addu(&o, KEY_CODE, (uint64_t)WEXITSTATUS(a->c.status));
	send_ctl(a, &o);
	container_reset(&a->c);
	relay_buf_clear(&a->in);
}

/* What a stdio entry of the poll set is for: whose process (e, or NULL for the
 * container's own) and which stream. */
enum stream { STREAM_OUT, STREAM_ERR, STREAM_IN };
struct watch {
	struct exec_proc *e;
	enum stream stream;
};
#define DNS_POLL 9 /* the DNS relay's TCP listener and connections (dns.c) */
#define MAX_POLL (3 + DNS_POLL + 3 * (EXEC_MAX + 1)) /* port, signals, DNS relay, stdio */

struct poll_set {
	struct pollfd pfd[MAX_POLL];
	struct watch what[MAX_POLL];
	int n;
};

static void watch_stdio(struct agent *a, struct poll_set *ps, struct exec_proc *e)
{
	struct proc_stdio *io = e ? &e->io : &a->c.io;
	struct relay_buf *in = e ? &e->in : &a->in;
	/* Output only while connected, so a reconnecting host gets hello first; none while
	 * frozen. */
	if (a->connected && !a->frozen && io->out_fd >= 0) {
		ps->what[ps->n] = (struct watch){ e, STREAM_OUT };
		ps->pfd[ps->n++] = (struct pollfd){ io->out_fd, POLLIN, 0 };
	}
	if (a->connected && !a->frozen && io->err_fd >= 0) {
		ps->what[ps->n] = (struct watch){ e, STREAM_ERR };
		ps->pfd[ps->n++] = (struct pollfd){ io->err_fd, POLLIN, 0 };
	}
	if (io->in_fd >= 0 && relay_buf_pending(in) > 0) {
		ps->what[ps->n] = (struct watch){ e, STREAM_IN };
		ps->pfd[ps->n++] = (struct pollfd){ io->in_fd, POLLOUT, 0 };
	}
}

/* Relays what poll found ready on entry k; returns whether it was a writable stdin. */
static int serve_stdio(struct agent *a, const struct poll_set *ps, int k)
{
	const struct watch *w = &ps->what[k];
	struct proc_stdio *io = w->e ? &w->e->io : &a->c.io;
	uint32_t num = w->e ? w->e->num : 0;
	if (!ps->pfd[k].revents)
		return 0;
	if (w->stream == STREAM_OUT && io->out_fd >= 0)
		pump(a, &io->out_fd, num ? FRAME_EXEC_STDOUT : FRAME_STDOUT, num);
	else if (w->stream == STREAM_ERR && io->err_fd >= 0)
		pump(a, &io->err_fd, num ? FRAME_EXEC_STDERR : FRAME_STDERR, num);
	return w->stream == STREAM_IN;
}

/* Whether poll was asked about p's stdin and said nothing: a write would say EAGAIN. */
static int stdin_blocked(const struct poll_set *ps, int first, const struct exec_proc *e)
{
	for (int k = first; k < ps->n; k++)
		if (ps->what[k].e == e && ps->what[k].stream == STREAM_IN)
			return ps->pfd[k].revents == 0;
	return 0;
}

static void loop(struct agent *a)
{
	static struct poll_set ps;
	for (;;) {
		int ip = -1, is;
		int timeout = -1;
		ps.n = 0;

		if (!a->connected && now_ms() < a->parked_until) {
			/* Host away: poll would report POLLHUP at once, forever. Sleep instead. */
			timeout = (int)(a->parked_until - now_ms());
		} else {
			ip = ps.n;
			/* Always read: stdin is bounded by credit (credit.h), not by leaving
			 * the port unread, which would stall every other stream and request. */
			ps.pfd[ps.n++] = (struct pollfd){ a->port, POLLIN, 0 };
			/* Probing a disconnected port: a poll without POLLHUP means it is back. */
			if (!a->connected)
				timeout = 0;
		}
		is = ps.n;
		ps.pfd[ps.n++] = (struct pollfd){ a->sigfd, POLLIN, 0 };
		int id_ = -1, it = ps.n, nt = 0;
		/* Frozen, nothing of the container's reaches the host: nor its queries. */
		if (a->dns_fd >= 0 && a->connected && !a->frozen) {
			id_ = ps.n;
			ps.pfd[ps.n++] = (struct pollfd){ a->dns_fd, POLLIN, 0 };
			it = ps.n;
			nt = dns_watch(&ps.pfd[ps.n], DNS_POLL);
			ps.n += nt;
		}
		int first = ps.n;
		watch_stdio(a, &ps, NULL);
		for (size_t i = 0; i < EXEC_MAX; i++)
			if (a->execs[i].num)
				watch_stdio(a, &ps, &a->execs[i]);

		if (poll(ps.pfd, (nfds_t)ps.n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}

		if (ip >= 0) {
			short re = ps.pfd[ip].revents;
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
		if (ps.pfd[is].revents & POLLIN)
			reap(a);
		if (id_ >= 0 && (ps.pfd[id_].revents & POLLIN)) {
			static struct ctl_out q;
			for (int k = 0; k < 16 && dns_take_query(a->dns_fd, &q) == 0; k++)
				send_ctl(a, &q);
		}
		if (nt > 0)
			dns_serve_tcp(&ps.pfd[it], nt, send_dns, a);
		for (int k = first; k < ps.n; k++)
			serve_stdio(a, &ps, k);
		stdin_maintain(&a->c.io.in_fd, &a->in, !stdin_blocked(&ps, first, NULL));
		for (size_t i = 0; i < EXEC_MAX; i++)
			if (a->execs[i].num)
				stdin_maintain(&a->execs[i].io.in_fd, &a->execs[i].in,
					       !stdin_blocked(&ps, first, &a->execs[i]));
		send_credits(a);
		report_exec_exits(a);
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

	vm_boot_setup();
	char err[256];
	a.port = boot_open_port(err, sizeof err);
	if (a.port < 0)
		fatal("%s", err);
	if (frame_reader_init(&a.rd) < 0)
		fatal("frame buffer: out of memory");
	container_init(&a.c);
	a.held_mnt_ns = -1;
	a.dns_fd = -1;
	relay_buf_init(&a.in);
	for (size_t i = 0; i < EXEC_MAX; i++) {
		proc_stdio_init(&a.execs[i].io);
		relay_buf_init(&a.execs[i].in);
	}
	/* Start as disconnected: the first poll that sees no POLLHUP means the host end is
	 * open, and hello goes out then (and again on every reconnect). */
	a.connected = 0;
	a.parked_until = 0;
	loop(&a);
	return 0;
}
