/* ns.h — the container process's namespaces inside the guest. */
#ifndef RUNX_NS_H
#define RUNX_NS_H

#include <sys/types.h>

/* fork(2) with CLONE_NEW* flags: the child starts in the new namespaces (with
 * CLONE_NEWPID it is PID 1 there). Returns like fork. */
pid_t ns_fork(int clone_flags);
/* Brings up "lo" in the caller's network namespace. 0, or -1 with errno. */
int ns_loopback_up(void);

struct plan;
/* The calling (single-threaded, root) process moves into a new user namespace with
 * the plan's uid and gid maps and becomes its root. procdir: its own /proc/<pid>
 * directory, opened before it changed root. 0, or -1 with errno and *what. */
int ns_enter_user(const struct plan *p, int procdir, const char **what);

#endif
