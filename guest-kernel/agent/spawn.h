/* spawn.h — the agent's side of starting a process in the container, shared by
 * `create` (container.c) and `exec` (exec.c): the stdio pipes or the terminal
 * socket, the setup-status handshake, and the fds the event loop relays. */
#ifndef RUNX_SPAWN_H
#define RUNX_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* The agent's ends of a running process's stdio, all non-blocking; -1 once closed.
 * With a terminal, in_fd and out_fd are two fds of the pty master (closing stdin at
 * EOF must not end the output), err_fd is -1 and tty_fd is a third, for resizes. */
struct proc_stdio {
	int in_fd, out_fd, err_fd, tty_fd;
};

/* Both ends of everything a child is started with; [0] read end, [1] write end. */
struct spawn {
	int tty;
	int in[2], out[2], er[2];
	int st[2];   /* setup status: the child writes 'O' or 'E'+message, then closes */
	int sock[2]; /* with tty: the child sends the pty master over sock[1] */
};

/* Makes the pipes (or, with tty, the socket pair). 0, or -1 with err set. */
int spawn_open(struct spawn *s, int tty, char *err, size_t errlen);
/* In the child: keeps its ends, sets process_status_fd. The stdio fds to dup2 are
 * s->in[0], s->out[1], s->er[1] (unused with tty); the pty goes over s->sock[1]. */
void spawn_child(struct spawn *s);
/* In the agent, after fork: waits for the child's setup result. 0: *io holds the
 * process's stdio. -1: the child was killed and reaped, err holds its reason. Either
 * way every fd of s is closed or handed to io. */
int spawn_finish(struct spawn *s, pid_t pid, struct proc_stdio *io, char *err, size_t errlen);
/* Closes whatever of s is still open. */
void spawn_close(struct spawn *s);

void proc_stdio_init(struct proc_stdio *io);
void proc_stdio_close(struct proc_stdio *io);
/* Sets the terminal's window size; the process gets SIGWINCH. 0, or -1 with errno. */
int proc_stdio_resize(const struct proc_stdio *io, unsigned rows, unsigned cols);

#endif
