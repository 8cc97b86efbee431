/* sysctl.h — kernel knobs under /proc the config sets for the container: linux.sysctl
 * and process.oomScoreAdj. */
#ifndef RUNX_SYSCTL_H
#define RUNX_SYSCTL_H

#include <stddef.h>

/* Writes "key=value" to /proc/sys/key (dots become slashes). Call inside the container's
 * namespaces: net.*, kernel.shm*, kernel.hostname... resolve to the caller's namespace.
 * 0, or -1 with errno. */
int sysctl_write(const char *kv);
/* Writes val to a kernel file (a /proc or cgroup knob) in one write(2). 0, or -1 with
 * errno (EIO for a short write). */
int knob_write(const char *path, const char *val);
/* Writes /proc/self/oom_score_adj. 0, or -1 with errno. */
int oom_score_adj_write(int value);

#endif
