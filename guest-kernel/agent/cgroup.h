/* cgroup.h — the container's cgroup in the guest kernel: made at `create`, holding the
 * container's process and every exec'd one, limited by linux.resources (the `res.*`
 * fields of `create` and `update`) and read for `stats`. One container per VM, so one
 * cgroup, at a fixed path of the unified (v2) hierarchy. */
#ifndef RUNX_CGROUP_H
#define RUNX_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define CGROUP_MOUNT "/sys/fs/cgroup"
#define CGROUP_DIR CGROUP_MOUNT "/container"

/* Mounts the hierarchy and makes the container's (empty) cgroup, unless done
 * already. 0, or -1 with a one-line reason in err. */
int cgroup_prepare(char *err, size_t errlen);
/* The res.* fields of a `create` or `update`, checked. */
struct res {
	int has_mem, has_low, has_swap, has_pids, has_quota, has_period, has_shares;
	uint64_t mem, low, swap, pids, quota, period, shares;
};
/* Reads and checks the res.* fields of m into r, changing nothing. 0, or -1 with a
 * one-line reason in err. */
int cgroup_parse(const struct ctl_msg *m, struct res *r, char *err, size_t errlen);
/* cgroup_prepare, then applies r (from cgroup_parse of `create` what). 0, or -1 with a
 * one-line reason in err. */
int cgroup_create(const char *what, const struct res *r, char *err, size_t errlen);
/* Applies the res.* fields of an `update` to the live cgroup. Every field is checked
 * before any is written. 0, or -1 with a one-line reason in err. */
int cgroup_update(const struct ctl_msg *m, char *err, size_t errlen);
/* Moves the calling process into the container's cgroup; with new_ns, it then gets a
 * cgroup namespace rooted there. 0, or -1 with errno. For a freshly forked child,
 * before it makes any process of its own. */
int cgroup_enter(int new_ns);
/* Freezes (on 1) or thaws the container's cgroup, its exec'd processes with it: on,
 * waits until every task has stopped, at most timeout_ms (then thaws it again and
 * fails). 0, or -1 with a one-line reason in err. */
int cgroup_freeze(int on, int timeout_ms, char *err, size_t errlen);
/* Appends the cgroup's usage counters to o (the `usage` reply). 0, or -1 with err. */
int cgroup_stats(struct ctl_out *o, char *err, size_t errlen);

#endif
