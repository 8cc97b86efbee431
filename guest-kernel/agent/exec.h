/* exec.h — processes started in a running container by `exec`: entering the container
 * process's namespaces and root, and the bookkeeping of each such process, which the
 * event loop (main.c) relays and reaps like the container's own. */
#ifndef RUNX_EXEC_H
#define RUNX_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"
#include "relay.h"
#include "spawn.h"

/* Live exec'd processes per container; a bound so a runaway client cannot exhaust
 * the agent's poll set. */
#define EXEC_MAX 32

struct exec_proc {
	uint32_t num; /* the host's number for it; 0: the slot is free */
	pid_t pid;
	struct proc_stdio io;
	struct relay_buf in; /* stdin from the host, not yet written */
	int exited;          /* reaped; draining output */
	int status;          /* wait status, valid when exited */
};

/* Starts p (an `exec` plan) in the namespaces and root of container_pid, into the free
 * slot e. 0, or -1 with a one-line reason in err (nothing left running). */
int exec_start(const struct plan *p, pid_t container_pid, struct exec_proc *e, char *err,
	       size_t errlen);
/* Closes its fds, drops its buffered stdin and frees the slot. */
void exec_forget(struct exec_proc *e);

#endif
