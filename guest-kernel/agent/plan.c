/* plan.c — owns parsing a `create` or `exec` control message into a struct plan (see plan.h). */
#include "plan.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

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

static const struct {
	const char *name;
	int flag;
} ns_names[] = {
	{ "pid", CLONE_NEWPID },   { "uts", CLONE_NEWUTS },       { "ipc", CLONE_NEWIPC },
	{ "mount", CLONE_NEWNS },  { "cgroup", CLONE_NEWCGROUP },
};

/* "INNER:OUTER:COUNT", each a uint32, COUNT at least 1, no wrap-around. */
static int parse_idmap(const char *v, struct plan_idmap *m)
{
	char buf[64];
	uint64_t f[3];
	if (strlen(v) >= sizeof buf)
		return -1;
	strcpy(buf, v);
	char *s = buf;
	for (int i = 0; i < 3; i++) {
		char *c = strchr(s, ':');
		if ((i < 2) != (c != NULL))
			return -1;
		if (c)
			*c = '\0';
		if (parse_u64(s, &f[i]) < 0 || f[i] > 0xffffffffu)
			return -1;
		s = c ? c + 1 : s;
	}
	if (f[2] == 0 || f[0] + f[2] > 0x100000000ull || f[1] + f[2] > 0x100000000ull)
		return -1;
	m->inner = (uint32_t)f[0];
	m->outer = (uint32_t)f[1];
	m->count = (uint32_t)f[2];
	return 0;
}

static int parse_ns(const char *s, int *flags)
{
	for (size_t i = 0; i < sizeof ns_names / sizeof ns_names[0]; i++)
		if (strcmp(ns_names[i].name, s) == 0) {
			*flags |= ns_names[i].flag;
			return 0;
		}
	return -1;
}

/* One number of a ':'-separated list; advances *s past it and its ':'. */
static int take_u64(const char **s, uint64_t *out)
{
	const char *c = strchr(*s, ':');
	char buf[24];
	size_t n = c ? (size_t)(c - *s) : 0;
	if (!c || n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, *s, n);
	buf[n] = '\0';
	*s = c + 1;
	return parse_u64(buf, out);
}

/* TYPE:MAJOR:MINOR:MODE:UID:GID:PATH (docs/protocol/agent.md). */
static int parse_device(const char *s, struct plan_device *d)
{
	if (!s[0] || s[1] != ':')
		return -1;
	switch (s[0]) {
	case 'c':
	case 'u': /* unbuffered character device: a character device to mknod */
		d->type = S_IFCHR;
		break;
	case 'b':
		d->type = S_IFBLK;
		break;
	case 'p':
		d->type = S_IFIFO;
		break;
	default:
		return -1;
	}
	s += 2;
	uint64_t maj, min, mode, uid, gid;
	if (take_u64(&s, &maj) < 0 || take_u64(&s, &min) < 0 || take_u64(&s, &mode) < 0 ||
	    take_u64(&s, &uid) < 0 || take_u64(&s, &gid) < 0 || s[0] != '/' ||
	    maj > 0xfff || min > 0xfffff || mode > 07777 || uid > (uid_t)-1 || gid > (gid_t)-1)
		return -1;
	d->major = (unsigned)maj;
	d->minor = (unsigned)min;
	d->mode = (mode_t)mode;
	d->uid = (uid_t)uid;
	d->gid = (gid_t)gid;
	d->path = s;
	return 0;
}

/* The host sends struct sock_filter[] hex-encoded, 8 bytes per instruction. */
static int parse_seccomp(const char *hex, struct plan *p)
{
	size_t len = strlen(hex);
	if (len == 0 || len % 16 || len / 16 > 4096)
		return -1;
	unsigned char *b = malloc(len / 2);
	if (!b)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return -1;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	free(p->seccomp);
	p->seccomp = b;
	p->seccomp_len = (unsigned short)(len / 16);
	return 0;
}

/* A propagation change: exactly one of MS_SHARED/SLAVE/PRIVATE/UNBINDABLE, and
 * MS_REC; mount(2) refuses any other combination with EINVAL. */
static int parse_prop(const char *v, unsigned long *out)
{
	uint64_t u;
	if (parse_u64(v, &u) < 0)
		return -1;
	uint64_t type = u & ~(uint64_t)MS_REC;
	if (type != MS_SHARED && type != MS_SLAVE && type != MS_PRIVATE && type != MS_UNBINDABLE)
		return -1;
	*out = (unsigned long)u;
	return 0;
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
	p->sysctls = calloc(count_key(m, KEY_SYSCTL) + 1, sizeof *p->sysctls);
	p->devices = calloc(count_key(m, KEY_DEVICE) + 1, sizeof *p->devices);
	p->uidmap = calloc(count_key(m, KEY_UIDMAP) + 1, sizeof *p->uidmap);
	p->gidmap = calloc(count_key(m, KEY_GIDMAP) + 1, sizeof *p->gidmap);
	if (!p->args || !p->env || !p->groups || !p->rlimits || !p->mounts || !p->masked ||
	    !p->readonly || !p->shares || !p->sysctls || !p->devices || !p->uidmap || !p->gidmap)
		FAIL("out of memory");

	int have_id = 0, have_uid = 0, have_gid = 0;
	for (size_t i = 0; i < m->nfields; i++) {
		const char *k = m->fields[i].key, *v = m->fields[i].val;
		uint64_t u;
		struct plan_mount *cur = p->nmounts ? &p->mounts[p->nmounts - 1] : NULL;

		if (strcmp(k, KEY_ID) == 0) {
			if (parse_u64(v, &p->id) < 0)
				FAIL("%s: bad id %s", m->name, v);
			have_id = 1;
		} else if (strcmp(k, KEY_ARG) == 0) {
			p->args[p->nargs++] = (char *)v;
		} else if (strcmp(k, KEY_ENV) == 0) {
			p->env[p->nenv++] = (char *)v;
		} else if (strcmp(k, KEY_CWD) == 0) {
			p->cwd = v;
		} else if (strcmp(k, KEY_UID) == 0) {
			if (parse_u64(v, &u) < 0 || u > (uid_t)-1)
				FAIL("%s: bad uid %s", m->name, v);
			p->uid = (uid_t)u;
			have_uid = 1;
		} else if (strcmp(k, KEY_GID) == 0) {
			if (parse_u64(v, &u) < 0 || u > (gid_t)-1)
				FAIL("%s: bad gid %s", m->name, v);
			p->gid = (gid_t)u;
			have_gid = 1;
		} else if (strcmp(k, KEY_GROUP) == 0) {
			if (parse_u64(v, &u) < 0 || u > (gid_t)-1)
				FAIL("%s: bad group %s", m->name, v);
			p->groups[p->ngroups++] = (gid_t)u;
		} else if (strcmp(k, KEY_UMASK) == 0) {
			if (parse_u64(v, &u) < 0 || u > 0777)
				FAIL("%s: bad umask %s", m->name, v);
			p->umask = (mode_t)u;
		} else if (strcmp(k, KEY_NNP) == 0) {
			p->nnp = strcmp(v, "1") == 0;
		} else if (strcmp(k, KEY_HOSTNAME) == 0) {
			p->hostname = v;
		} else if (strcmp(k, KEY_ROOTRO) == 0) {
			p->rootro = strcmp(v, "1") == 0;
		} else if (strcmp(k, KEY_ROOTPROP) == 0) {
			if (parse_prop(v, &p->rootprop) < 0)
				FAIL("%s: bad rootprop %s", m->name, v);
		} else if (strcmp(k, KEY_RLIMIT) == 0) {
			if (parse_rlimit(v, &p->rlimits[p->nrlimits]) < 0)
				FAIL("%s: bad rlimit %s", m->name, v);
			p->nrlimits++;
		} else if (strcmp(k, KEY_MOUNT_DEST) == 0) {
			if (v[0] != '/')
				FAIL("%s: mount destination %s is not absolute", m->name, v);
			p->mounts[p->nmounts++].dest = v;
		} else if (strcmp(k, KEY_MOUNT_TYPE) == 0 || strcmp(k, KEY_MOUNT_SOURCE) == 0 ||
			   strcmp(k, KEY_MOUNT_FLAGS) == 0 || strcmp(k, KEY_MOUNT_DATA) == 0 ||
			   strcmp(k, KEY_MOUNT_PROP) == 0) {
			/* mount.* fields attach to the mount begun by the last mount.dest. */
			if (!cur)
				FAIL("%s: %s before any mount.dest", m->name, k);
			if (strcmp(k, KEY_MOUNT_TYPE) == 0)
				cur->type = v;
			else if (strcmp(k, KEY_MOUNT_SOURCE) == 0)
				cur->source = v;
			else if (strcmp(k, KEY_MOUNT_DATA) == 0)
				cur->data = v;
			else if (strcmp(k, KEY_MOUNT_PROP) == 0) {
				if (parse_prop(v, &cur->prop) < 0)
					FAIL("%s: bad mount.prop %s", m->name, v);
			}
			else if (parse_u64(v, &u) < 0 || u > (unsigned long)-1)
				FAIL("%s: bad mount.flags %s", m->name, v);
			else
				cur->flags = (unsigned long)u;
		} else if (strcmp(k, KEY_MASKED) == 0) {
			p->masked[p->nmasked++] = v;
		} else if (strcmp(k, KEY_READONLY) == 0) {
			p->readonly[p->nreadonly++] = v;
		} else if (strcmp(k, KEY_SHARE) == 0) {
			/* The tag becomes one path component under the share directory. */
			if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
				FAIL("%s: bad share tag %s", m->name, v);
			p->shares[p->nshares++] = v;
		} else if (strcmp(k, KEY_NS) == 0 && strcmp(v, "user") == 0) {
			p->userns = 1;
		} else if (strcmp(k, KEY_UIDMAP) == 0 || strcmp(k, KEY_GIDMAP) == 0) {
			int uid = strcmp(k, KEY_UIDMAP) == 0;
			struct plan_idmap *to = uid ? &p->uidmap[p->nuidmap] : &p->gidmap[p->ngidmap];
			if (parse_idmap(v, to) < 0)
				FAIL("%s: bad %s %s", m->name, k, v);
			if (uid)
				p->nuidmap++;
			else
				p->ngidmap++;
		} else if (strcmp(k, KEY_NS) == 0) {
			if (parse_ns(v, &p->clone_flags) < 0)
				FAIL("%s: unsupported namespace type %s", m->name, v);
		} else if (strncmp(k, "cap.", 4) == 0) {
			uint64_t *set = strcmp(k, KEY_CAP_BOUNDING) == 0      ? &p->cap_bounding
					: strcmp(k, KEY_CAP_EFFECTIVE) == 0   ? &p->cap_effective
					: strcmp(k, KEY_CAP_INHERITABLE) == 0 ? &p->cap_inheritable
					: strcmp(k, KEY_CAP_PERMITTED) == 0   ? &p->cap_permitted
					: strcmp(k, KEY_CAP_AMBIENT) == 0     ? &p->cap_ambient
									      : NULL;
			if (!set)
				continue; /* a newer host's set: ignored like any unknown key */
			if (parse_u64(v, set) < 0)
				FAIL("%s: bad %s %s", m->name, k, v);
			p->has_caps = 1;
		} else if (strcmp(k, KEY_OOMSCOREADJ) == 0) {
			char *end;
			errno = 0;
			long o = strtol(v, &end, 10);
			if (errno || end == v || *end || o < -1000 || o > 1000)
				FAIL("%s: bad oomscoreadj %s", m->name, v);
			p->oom_score_adj = (int)o;
			p->has_oom = 1;
		} else if (strcmp(k, KEY_SYSCTL) == 0) {
			/* Only the key is a path (/proc/sys/KEY, dots become slashes): a
			 * value may hold anything, ".." included. */
			const char *eq = strchr(v, '=');
			if (!eq || eq == v || memmem(v, (size_t)(eq - v), "..", 2))
				FAIL("%s: bad sysctl %s", m->name, v);
			p->sysctls[p->nsysctls++] = v;
		} else if (strcmp(k, KEY_DEVICE) == 0) {
			if (parse_device(v, &p->devices[p->ndevices]) < 0)
				FAIL("%s: bad device %s", m->name, v);
			p->ndevices++;
		} else if (strcmp(k, KEY_SECCOMP) == 0) {
			if (parse_seccomp(v, p) < 0)
				FAIL("%s: bad seccomp program", m->name);
		} else if (strcmp(k, KEY_TTY) == 0) {
			p->tty = strcmp(v, "1") == 0;
		} else if (strcmp(k, KEY_ROWS) == 0 || strcmp(k, KEY_COLS) == 0) {
			if (parse_u64(v, &u) < 0 || u > 0xffff)
				FAIL("%s: bad %s %s", m->name, k, v);
			*(strcmp(k, KEY_ROWS) == 0 ? &p->rows : &p->cols) = (unsigned short)u;
		} else if (strcmp(k, KEY_EXEC) == 0) {
			if (parse_u64(v, &u) < 0 || u == 0 || u > 0xffffffffu)
				FAIL("%s: bad exec number %s", m->name, v);
			p->exec = (uint32_t)u;
		} else if (strcmp(k, KEY_SECCOMP_FLAGS) == 0) {
			if (parse_u64(v, &u) < 0 || u > 0xffffffffu)
				FAIL("%s: bad seccomp.flags %s", m->name, v);
			p->seccomp_flags = (unsigned)u;
		}
		/* Unknown keys are ignored: a newer host may add optional fields. */
	}
	if (!have_id)
		FAIL("%s: missing id", m->name);
	if (p->nargs == 0 || p->args[0][0] == '\0')
		FAIL("%s: missing arg", m->name);
	if (!p->cwd)
		FAIL("%s: missing cwd", m->name);
	if (p->cwd[0] != '/')
		FAIL("%s: cwd %s is not absolute", m->name, p->cwd);
	if (!have_uid)
		FAIL("%s: missing uid", m->name);
	if (!have_gid)
		FAIL("%s: missing gid", m->name);
	/* The kernel takes at most 340 lines (5 before 4.15); the host sends few. */
	if (p->userns && (!p->nuidmap || !p->ngidmap || p->nuidmap > 340 || p->ngidmap > 340))
		FAIL("%s: a user namespace needs 1 to 340 uidmap and gidmap lines", m->name);
	if (!p->userns && (p->nuidmap || p->ngidmap))
		FAIL("%s: uidmap or gidmap without a user namespace", m->name);
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->args);
	free(p->env);
	free(p->uidmap);
	free(p->gidmap);
	free(p->groups);
	free(p->rlimits);
	free(p->mounts);
	free(p->masked);
	free(p->readonly);
	free(p->shares);
	free(p->sysctls);
	free(p->devices);
	free(p->seccomp);
	memset(p, 0, sizeof *p);
}
