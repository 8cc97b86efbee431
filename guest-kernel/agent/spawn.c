/* spawn.c — owns the agent's side of starting a process (see spawn.h). */
#include "spawn.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void proc_stdio_init(struct proc_stdio *io)
{
	io->in_fd = io->out_fd = io->err_fd = io->tty_fd = -1;
}

void proc_stdio_close(struct proc_stdio *io)
{
	close_fd(&io->in_fd);
	close_fd(&io->out_fd);
	close_fd(&io->err_fd);
	close_fd(&io->tty_fd);
}

int proc_stdio_resize(const struct proc_stdio *io, unsigned rows, unsigned cols)
{
	if (io->tty_fd < 0) {
		errno = ENOTTY;
		return -1;
	}
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	return ioctl(io->tty_fd, TIOCSWINSZ, &ws);
}

void spawn_close(struct spawn *s)
{
	for (int i = 0; i < 2; i++) {
		close_fd(&s->in[i]);
		close_fd(&s->out[i]);
		close_fd(&s->er[i]);
		close_fd(&s->st[i]);
		close_fd(&s->sock[i]);
	}
}

int spawn_open(struct spawn *s, int tty, char *err, size_t errlen)
{
	s->tty = tty;
	for (int i = 0; i < 2; i++)
		s->in[i] = s->out[i] = s->er[i] = s->st[i] = s->sock[i] = -1;
	/* All CLOEXEC, so nothing leaks into the exec'd process but the dup2'd stdio. */
	int r = pipe2(s->st, O_CLOEXEC);
	if (r == 0 && tty)
		r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->sock);
	else if (r == 0)
		r = (pipe2(s->in, O_CLOEXEC) < 0 || pipe2(s->out, O_CLOEXEC) < 0 ||
		     pipe2(s->er, O_CLOEXEC) < 0) ? -1 : 0;
	if (r < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		spawn_close(s);
		return -1;
	}
	return 0;
}

void spawn_child(struct spawn *s)
{
	close_fd(&s->in[1]);
	close_fd(&s->out[0]);
	close_fd(&s->er[0]);
	close_fd(&s->st[0]);
	close_fd(&s->sock[0]);
	process_status_fd = s->st[1];
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int spawn_finish(struct spawn *s, pid_t pid, struct proc_stdio *io, char *err, size_t errlen)
{
	proc_stdio_init(io);
	close_fd(&s->in[0]);
	close_fd(&s->out[1]);
	close_fd(&s->er[1]);
	close_fd(&s->st[1]);
	close_fd(&s->sock[1]);

	/* Blocks the event loop for the length of the setup (a few ms): the host is
	 * waiting for this reply anyway. EOF comes when the child closes the pipe after
	 * 'O', or when it exits. */
	char buf[1100];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(s->st[0], buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof buf - 1)
			break;
	}
	int master = -1;
	if (got == 1 && buf[0] == STATUS_OK && s->tty) {
		/* Sent before 'O', so it is already queued. */
		master = fd_recv(s->sock[0]);
		if (master < 0) {
			snprintf(buf, sizeof buf, "%cno terminal from the process: %s", STATUS_ERR,
				 strerror(errno));
			got = strlen(buf);
		}
	}
	if (got != 1 || buf[0] != STATUS_OK) {
		if (got > 1 && buf[0] == STATUS_ERR) {
			buf[got] = '\0';
			snprintf(err, errlen, "%s", buf + 1);
		} else {
			snprintf(err, errlen, "process setup failed");
		}
		/* Reap it here so the SIGCHLD handler never mistakes it for an exit. */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		spawn_close(s);
		return -1;
	}
	if (s->tty) {
		io->out_fd = master;
		io->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 0);
		io->tty_fd = fcntl(master, F_DUPFD_CLOEXEC, 0);
	} else {
		io->in_fd = s->in[1];
		io->out_fd = s->out[0];
		io->err_fd = s->er[0];
		s->in[1] = s->out[0] = s->er[0] = -1;
	}
	spawn_close(s);
	/* The agent must never block on the child's stdin, and drains output with poll.
	 * (in_fd and out_fd share one file description with a terminal: both become
	 * non-blocking, which is what both want.) */
	if ((io->in_fd >= 0 && nonblock(io->in_fd) < 0) || (io->out_fd >= 0 && nonblock(io->out_fd) < 0) ||
	    (io->err_fd >= 0 && nonblock(io->err_fd) < 0)) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		proc_stdio_close(io);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return 0;
}
