/* plan.c — owns parsing a `create` control message into a struct plan (see plan.h). */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static size_t count_key(const struct ctl_msg *m, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nfields; i++)
		n += strcmp(m->fields[i].key, key) == 0;
	return n;
}

static int parse_rlimit(const char *s, struct plan_rlimit *rl)
{
	/* TYPE:SOFT:HARD, numbers only: the host turns "unlimited" into UINT64_MAX. */
	const char *c1 = strchr(s, ':');
	if (!c1)
		return -1;
	const char *c2 = strchr(c1 + 1, ':');
	if (!c2)
		return -1;
	char name[32], soft[24], hard[24];
	size_t nl = (size_t)(c1 - s), sl = (size_t)(c2 - c1 - 1), hl = strlen(c2 + 1);
	if (nl >= sizeof name || sl >= sizeof soft || hl >= sizeof hard)
		return -1;
	memcpy(name, s, nl);
	name[nl] = '\0';
	memcpy(soft, c1 + 1, sl);
	soft[sl] = '\0';
	memcpy(hard, c2 + 1, hl + 1);
	size_t i;
	for (i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; i++)
		if (strcmp(rlimit_names[i].name, name) == 0)
			break;
	if (i == sizeof rlimit_names / sizeof rlimit_names[0])
		return -1;
	rl->resource = rlimit_names[i].resource;
	return (parse_u64(soft, &rl->soft) < 0 || parse_u64(hard, &rl->hard) < 0) ? -1 : 0;
}

#define FAIL(...)                                    \
	do {                                         \
		snprintf(err, errlen, __VA_ARGS__);  \
		plan_free(p);                        \
		return -1;                           \
	} while (0)

int plan_parse(const struct ctl_msg *m, struct plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	p->umask = 022;

	/* Every list is sized by counting its key first, so no array is ever resized. */
	p->args = calloc(count_key(m, KEY_ARG) + 1, sizeof *p->args);
	p->env = calloc(count_key(m, KEY_ENV) + 1, sizeof *p->env);
	p->groups = calloc(count_key(m, KEY_GROUP) + 1, sizeof *p->groups);
	p->rlimits = calloc(count_key(m, KEY_RLIMIT) + 1, sizeof *p->rlimits);
	p->mounts = calloc(count_key(m, KEY_MOUNT_DEST) + 1, sizeof *p->mounts);
	p->masked = calloc(count_key(m, KEY_MASKED) + 1, sizeof *p->masked);
	p->readonly = calloc(count_key(m, KEY_READONLY) + 1, sizeof *p->readonly);
	p->shares = calloc(count_key(m, KEY_SHARE) + 1, sizeof *p->shares);
	if (!p->args || !p->env || !p->groups || !p->rlimits || !p->mounts || !p->masked ||
	    !p->readonly || !p->shares)
		FAIL("out of memory");

	int have_id = 0, have_uid = 0, have_gid = 0;
	for (size_t i = 0; i < m->nfields; i++) {
		const char *k = m->fields[i].key, *v = m->fields[i].val;
		uint64_t u;
		struct plan_mount *cur = p->nmounts ? &p->mounts[p->nmounts - 1] : NULL;

		if (strcmp(k, KEY_ID) == 0) {
			if (parse_u64(v, &p->id) < 0)
				FAIL("create: bad id %s", v);
			have_id = 1;
		} else if (strcmp(k, KEY_ARG) == 0) {
			p->args[p->nargs++] = (char *)v;
		} else if (strcmp(k, KEY_ENV) == 0) {
			p->env[p->nenv++] = (char *)v;
		} else if (strcmp(k, KEY_CWD) == 0) {
			p->cwd = v;
		} else if (strcmp(k, KEY_UID) == 0) {
			if (parse_u64(v, &u) < 0 || u > (uid_t)-1)
				FAIL("create: bad uid %s", v);
			p->uid = (uid_t)u;
			have_uid = 1;
		} else if (strcmp(k, KEY_GID) == 0) {
			if (parse_u64(v, &u) < 0 || u > (gid_t)-1)
				FAIL("create: bad gid %s", v);
			p->gid = (gid_t)u;
			have_gid = 1;
		} else if (strcmp(k, KEY_GROUP) == 0) {
			if (parse_u64(v, &u) < 0 || u > (gid_t)-1)
				FAIL("create: bad group %s", v);
			p->groups[p->ngroups++] = (gid_t)u;
		} else if (strcmp(k, KEY_UMASK) == 0) {
			if (parse_u64(v, &u) < 0 || u > 0777)
				FAIL("create: bad umask %s", v);
			p->umask = (mode_t)u;
		} else if (strcmp(k, KEY_NNP) == 0) {
			p->nnp = strcmp(v, "1") == 0;
		} else if (strcmp(k, KEY_HOSTNAME) == 0) {
			p->hostname = v;
		} else if (strcmp(k, KEY_ROOTRO) == 0) {
			p->rootro = strcmp(v, "1") == 0;
		} else if (strcmp(k, KEY_RLIMIT) == 0) {
			if (parse_rlimit(v, &p->rlimits[p->nrlimits]) < 0)
				FAIL("create: bad rlimit %s", v);
			p->nrlimits++;
		} else if (strcmp(k, KEY_MOUNT_DEST) == 0) {
			if (v[0] != '/')
				FAIL("create: mount destination %s is not absolute", v);
			p->mounts[p->nmounts++].dest = v;
		} else if (strcmp(k, KEY_MOUNT_TYPE) == 0 || strcmp(k, KEY_MOUNT_SOURCE) == 0 ||
			   strcmp(k, KEY_MOUNT_FLAGS) == 0 || strcmp(k, KEY_MOUNT_DATA) == 0) {
			/* mount.* fields attach to the mount begun by the last mount.dest. */
			if (!cur)
				FAIL("create: %s before any mount.dest", k);
			if (strcmp(k, KEY_MOUNT_TYPE) == 0)
				cur->type = v;
			else if (strcmp(k, KEY_MOUNT_SOURCE) == 0)
				cur->source = v;
			else if (strcmp(k, KEY_MOUNT_DATA) == 0)
				cur->data = v;
			else if (parse_u64(v, &u) < 0 || u > (unsigned long)-1)
				FAIL("create: bad mount.flags %s", v);
			else
				cur->flags = (unsigned long)u;
		} else if (strcmp(k, KEY_MASKED) == 0) {
			p->masked[p->nmasked++] = v;
		} else if (strcmp(k, KEY_READONLY) == 0) {
			p->readonly[p->nreadonly++] = v;
		} else if (strcmp(k, KEY_SHARE) == 0) {
			/* The tag becomes one path component under the share directory. */
			if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
				FAIL("create: bad share tag %s", v);
			p->shares[p->nshares++] = v;
		}
		/* Unknown keys are ignored: a newer host may add optional fields. */
	}
	if (!have_id)
		FAIL("create: missing id");
	if (p->nargs == 0 || p->args[0][0] == '\0')
		FAIL("create: missing arg");
	if (!p->cwd)
		FAIL("create: missing cwd");
	if (p->cwd[0] != '/')
		FAIL("create: cwd %s is not absolute", p->cwd);
	if (!have_uid)
		FAIL("create: missing uid");
	if (!have_gid)
		FAIL("create: missing gid");
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->args);
	free(p->env);
	free(p->groups);
	free(p->rlimits);
	free(p->mounts);
	free(p->masked);
	free(p->readonly);
	free(p->shares);
	memset(p, 0, sizeof *p);
}
