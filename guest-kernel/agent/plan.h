/* plan.h — the container plan: everything a `create` message asks for, parsed and
 * validated before any fork, so the child only acts and never parses. */
#ifndef RUNX_PLAN_H
#define RUNX_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

struct plan_mount {
	const char *dest;
	const char *type;   /* NULL if not given */
	const char *source; /* NULL if not given */
	unsigned long flags;
	const char *data;   /* NULL if not given */
};

struct plan_rlimit {
	int resource;
	uint64_t soft, hard;
};

/* Strings point into the decoded create message, which must outlive the plan. */
struct plan {
	uint64_t id;
	char **args; /* NULL-terminated */
	size_t nargs;
	char **env; /* NULL-terminated */
	size_t nenv;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	mode_t umask;
	int nnp;
	const char *hostname; /* NULL if not given */
	int rootro;
	struct plan_rlimit *rlimits;
	size_t nrlimits;
	struct plan_mount *mounts;
	size_t nmounts;
	const char **masked;
	size_t nmasked;
	const char **readonly;
	size_t nreadonly;
	const char **shares; /* virtio-9p tags, mounted at SHARE_DIR/<tag> */
	size_t nshares;
};

/* 0, or -1 with a one-line reason in err. On error the plan is freed. */
int plan_parse(const struct ctl_msg *m, struct plan *p, char *err, size_t errlen);
void plan_free(struct plan *p);

#endif
