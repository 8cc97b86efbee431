/* plan.h — the container plan: everything a `create` message (or, for its process
 * fields, an `exec` message) asks for, parsed and validated before any fork, so the
 * child only acts and never parses. */
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
	unsigned long prop; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC) after mounting; 0: none */
};

/* One line of uid_map/gid_map: container ids [inner, inner+count) are guest ids
 * [outer, outer+count). */
struct plan_idmap {
	uint32_t inner, outer, count;
};

struct plan_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct plan_device {
	mode_t type; /* S_IFCHR, S_IFBLK or S_IFIFO */
	unsigned major, minor;
	mode_t mode; /* permission bits */
	uid_t uid;
	gid_t gid;
	const char *path;
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
	unsigned long rootprop; /* linux.rootfsPropagation as MS_* flags for "/"; 0: none */
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
	int clone_flags; /* CLONE_NEW* the container process is created with */
	int userns;      /* a user namespace, entered after the mounts (ns_enter_user) */
	struct plan_idmap *uidmap, *gidmap;
	size_t nuidmap, ngidmap;
	int has_caps;    /* process.capabilities given: apply the five sets */
	uint64_t cap_bounding, cap_effective, cap_inheritable, cap_permitted, cap_ambient;
	int has_oom;
	int oom_score_adj;
	const char **sysctls; /* "key=value" */
	size_t nsysctls;
	struct plan_device *devices;
	size_t ndevices;
	void *seccomp; /* struct sock_filter[], malloc'd; NULL if no filter */
	unsigned short seccomp_len; /* instructions */
	unsigned seccomp_flags;
	int tty;                    /* process.terminal: a pty from the container's /dev/ptmx */
	unsigned short rows, cols;  /* its initial window size; 0 if not given */
	uint32_t exec;              /* exec: the host's number for the process; 0 for create */
};

/* 0, or -1 with a one-line reason in err. On error the plan is freed. */
int plan_parse(const struct ctl_msg *m, struct plan *p, char *err, size_t errlen);
void plan_free(struct plan *p);

#endif
