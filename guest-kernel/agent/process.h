/* process.h — what every process started in the container goes through after its
 * namespaces and root are in place, whether it is the container's own (container.c)
 * or an exec'd one (exec.c): the terminal, rlimits, seccomp, capabilities, user,
 * umask, cwd and the executable's lookup; and the one-line failure report. */
#ifndef RUNX_PROCESS_H
#define RUNX_PROCESS_H

#include <stddef.h>

#include "plan.h"

#define STATUS_OK 'O'
#define STATUS_ERR 'E'

/* The child's end of its status pipe: setup failures go here (see process_fail). */
extern int process_status_fd;

/* Reports a setup failure to the agent and ends the child. The message is one line:
 * it becomes the `msg` of the `error` reply the user sees. */
__attribute__((noreturn, format(printf, 1, 2))) void process_fail(const char *fmt, ...);

/* Default signal dispositions and an empty mask: the agent's own (blocked SIGCHLD,
 * ignored SIGPIPE) survive execve and must not reach the container. */
void process_reset_signals(void);

/* Opens a pseudo-terminal from the container's /dev/ptmx (call after chroot), sends
 * its master over sock (SCM_RIGHTS) to the agent, and makes the slave the caller's
 * controlling terminal and stdin/stdout/stderr, owned by the process's uid. */
void process_take_tty(const struct plan *p, int sock);

/* rlimits, seccomp (when it must come before the uid change), capabilities, groups,
 * gid, uid, umask, no_new_privs, cwd, and the path of the executable, written to exe.
 * Everything that can fail before exec; failures end the child via process_fail. */
void process_prepare(const struct plan *p, char *exe, size_t exelen);
/* p's rlimits (process_prepare sets them too; setting them again changes nothing). */
void process_set_rlimits(const struct plan *p);

/* Tells the agent setup succeeded and closes the status pipe. */
void process_report_ok(void);

/* Installs seccomp if it was left for last (no_new_privs) and execs; never returns. */
__attribute__((noreturn)) void process_exec(const struct plan *p, const char *exe);

/* SCM_RIGHTS: one fd in one message. 0 / the received fd, or -1 with errno. */
int fd_send(int sock, int fd);
int fd_recv(int sock);

#endif
