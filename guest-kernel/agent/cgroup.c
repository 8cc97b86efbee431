/* cgroup.c — owns the guest's cgroup hierarchy and the container's cgroup in it
 * (cgroup.h).
 *
 * The unified (v2) hierarchy, not v1: one directory to join, limit and read, so one
 * write puts a process under every controller at once, where v1 needs a mount and a
 * join per controller; it has every counter `stats` reports in that one directory
 * (cpu.stat, memory.peak, memory.events' oom_kill); and a container's own `cgroup`
 * mount is turned into cgroup2 by the host's mount plan anyway, so the files the
 * container sees there are the ones its limits are written to. The guest kernel is
 * 6.1, where every controller runx needs works on v2.
 *
 * res.* values carry linux.resources' meaning (docs/protocol/agent.md): bytes,
 * microseconds, cpu shares, and `max` for no limit; what only v2 expresses
 * differently (shares -> cpu.weight, memory+swap -> memory.swap.max) is converted here,
 * where the current values are at hand. */
#include "cgroup.h"
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define CGROUP2_MAGIC 0x63677270
/* "max" in a cgroup file and in a res.* field: no limit. */
#define CG_MAX UINT64_MAX
/* The kernel's bounds (kernel/sched/core.c, kernel/cgroup/pids.c): a period of 1 ms to
 * 1 s, a quota of at least 1 ms and below 2^44 us, at most PID_MAX_LIMIT pids. Checked
 * here so that a bad value fails the whole update before anything is written. */
#define CPU_PERIOD_MIN 1000u
#define CPU_PERIOD_MAX 1000000u
#define CPU_QUOTA_MIN 1000u
#define CPU_QUOTA_MAX ((1ull << 44) - 1)
#define PIDS_LIMIT_MAX (4u * 1024 * 1024)

/* The whole of a (small) file of the container's cgroup, NUL-terminated. */
static int read_cg(const char *name, char *buf, size_t len)
{
	char path[128];
	snprintf(path, sizeof path, CGROUP_DIR "/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	ssize_t n;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return 0;
}

/* A decimal number or "max" (CG_MAX), up to the first blank or newline. */
static int parse_value(const char *s, uint64_t *out)
{
	char word[24];
	size_t n = strcspn(s, " \n");
	if (n == 0 || n >= sizeof word)
		return -1;
	memcpy(word, s, n);
	word[n] = '\0';
	if (strcmp(word, "max") == 0) {
		*out = CG_MAX;
		return 0;
	}
	return parse_u64(word, out);
}

/* A one-value file (memory.current, pids.max, ...). */
static int read_value(const char *name, uint64_t *out)
{
	char buf[64];
	if (read_cg(name, buf, sizeof buf) < 0)
		return -1;
	if (parse_value(buf, out) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The value of key in a flat-keyed file ("key value" lines: cpu.stat, memory.events,
 * memory.stat); 0 when the key is absent, as a counter that never moved. */
static uint64_t keyed(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *s = text;
	while (s && *s) {
		uint64_t v;
		if (strncmp(s, key, kl) == 0 && s[kl] == ' ' && parse_value(s + kl + 1, &v) == 0)
			return v;
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	return 0;
}

static int set(const char *name, const char *val, char *err, size_t errlen)
{
	char path[128];
	snprintf(path, sizeof path, CGROUP_DIR "/%s", name);
	if (knob_write(path, val) == 0)
		return 0;
	snprintf(err, errlen, "cgroup: set %s to %s: %s", name, val, strerror(errno));
	return -1;
}

static void fmt_value(char *buf, size_t len, uint64_t v)
{
	if (v == CG_MAX)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRIu64, v);
}

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1;                          \
	} while (0)

int cgroup_parse(const struct ctl_msg *m, struct res *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < m->nfields; i++) {
		const char *k = m->fields[i].key, *v = m->fields[i].val;
		uint64_t u;
		int *has;
		uint64_t *val;
		if (strcmp(k, KEY_RES_MEMORY) == 0)
			has = &r->has_mem, val = &r->mem;
		else if (strcmp(k, KEY_RES_MEMORY_RESERVATION) == 0)
			has = &r->has_low, val = &r->low;
		else if (strcmp(k, KEY_RES_MEMORY_SWAP) == 0)
			has = &r->has_swap, val = &r->swap;
		else if (strcmp(k, KEY_RES_PIDS) == 0)
			has = &r->has_pids, val = &r->pids;
		else if (strcmp(k, KEY_RES_CPU_QUOTA) == 0)
			has = &r->has_quota, val = &r->quota;
		else if (strcmp(k, KEY_RES_CPU_PERIOD) == 0)
			has = &r->has_period, val = &r->period;
		else if (strcmp(k, KEY_RES_CPU_SHARES) == 0)
			has = &r->has_shares, val = &r->shares;
		else
			continue; /* not ours, or a newer host's: ignored like any unknown key */
		/* A number of 0 is "not set" in linux.resources; the host leaves such out. */
		if (parse_value(v, &u) < 0 || u == 0 || strlen(v) != strcspn(v, " \n"))
			FAIL("%s: bad %s %s", m->name, k, v);
		*has = 1;
		*val = u;
	}
	if (r->has_pids && r->pids != CG_MAX && r->pids > PIDS_LIMIT_MAX)
		FAIL("%s: pids limit %" PRIu64 " is above the kernel's maximum %u", m->name, r->pids, PIDS_LIMIT_MAX);
	if (r->has_quota && r->quota != CG_MAX && (r->quota < CPU_QUOTA_MIN || r->quota > CPU_QUOTA_MAX))
		FAIL("%s: cpu quota %" PRIu64 " out of range (at least %u us)", m->name, r->quota, CPU_QUOTA_MIN);
	if (r->has_period && (r->period < CPU_PERIOD_MIN || r->period > CPU_PERIOD_MAX))
		FAIL("%s: cpu period %" PRIu64 " out of range (%u to %u us)", m->name, r->period, CPU_PERIOD_MIN,
		     CPU_PERIOD_MAX);
	if (r->has_shares && r->shares == CG_MAX)
		FAIL("%s: bad %s max", m->name, KEY_RES_CPU_SHARES);
	/* With both in the message this needs no cgroup file; apply_res checks it again
	 * against the limit in force when only swap is given. */
	if (r->has_swap && r->has_mem && r->swap != CG_MAX && r->mem != CG_MAX && r->swap < r->mem)
		FAIL("%s: memory+swap limit should be >= memory limit", m->name);
	return 0;
}

/* Writes r to the cgroup. Everything that can be refused is checked before the first
 * write, so a refused update leaves the cgroup as it was. */
static int apply_res(const char *what, const struct res *r, char *err, size_t errlen)
{
	char val[64];
	/* runtime-spec's swap is memory+swap (v1's memsw); v2 limits swap alone. runc's
	 * rules for the conversion, against the memory limit this leaves in force. */
	uint64_t swap = 0;
	int swap_file = 0;
	if (r->has_swap) {
		uint64_t mem = r->mem;
		if (!r->has_mem && read_value("memory.max", &mem) < 0)
			FAIL("cgroup: read memory.max: %s", strerror(errno));
		/* Without a memory limit there is nothing to subtract: the value is the
		 * swap limit itself, as current runc has it. */
		if (r->swap == CG_MAX || mem == CG_MAX)
			swap = r->swap;
		else if (r->swap < mem)
			FAIL("%s: memory+swap limit should be >= memory limit", what);
		else
			swap = r->swap - mem;
		/* No swap accounting in the kernel: the guest has no swap device either, so
		 * no swap can be used and the limit holds by itself. */
		swap_file = access(CGROUP_DIR "/memory.swap.max", F_OK) == 0;
	}
	/* cpu.max is "QUOTA PERIOD"; a period alone keeps the quota in force. */
	char cpu_max[64] = "";
	if (r->has_quota || r->has_period) {
		char quota[24];
		fmt_value(quota, sizeof quota, r->quota);
		if (!r->has_quota) {
			char cur[64];
			if (read_cg("cpu.max", cur, sizeof cur) < 0)
				FAIL("cgroup: read cpu.max: %s", strerror(errno));
			snprintf(quota, sizeof quota, "%.*s", (int)strcspn(cur, " \n"), cur);
		}
		if (r->has_period)
			snprintf(cpu_max, sizeof cpu_max, "%s %" PRIu64, quota, r->period);
		else
			snprintf(cpu_max, sizeof cpu_max, "%s", quota);
	}

	if (r->has_shares) {
		/* runc's mapping of shares [2, 262144] onto cpu.weight [1, 10000]. */
		uint64_t s = r->shares < 2 ? 2 : r->shares > 262144 ? 262144 : r->shares;
		snprintf(val, sizeof val, "%" PRIu64, 1 + ((s - 2) * 9999) / 262142);
		if (set("cpu.weight", val, err, errlen) < 0)
			return -1;
	}
	if (cpu_max[0] && set("cpu.max", cpu_max, err, errlen) < 0)
		return -1;
	if (r->has_pids) {
		fmt_value(val, sizeof val, r->pids);
		if (set("pids.max", val, err, errlen) < 0)
			return -1;
	}
	if (r->has_low) {
		fmt_value(val, sizeof val, r->low);
		if (set("memory.low", val, err, errlen) < 0)
			return -1;
	}
	if (r->has_mem) {
		fmt_value(val, sizeof val, r->mem);
		if (set("memory.max", val, err, errlen) < 0)
			return -1;
	}
	if (swap_file) {
		fmt_value(val, sizeof val, swap);
		if (set("memory.swap.max", val, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int mount_hierarchy(char *err, size_t errlen)
{
	struct statfs sf;
	if (statfs(CGROUP_MOUNT, &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
		return 0;
	if (mount("cgroup2", CGROUP_MOUNT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		FAIL("cgroup: mount cgroup2 on %s: %s", CGROUP_MOUNT, strerror(errno));
	/* The agent itself stays in the root cgroup, which v2 exempts from the rule that
	 * a cgroup with controllers for its children holds no processes. */
	static const char *const controllers[] = { "+cpu", "+memory", "+pids" };
	for (size_t i = 0; i < sizeof controllers / sizeof controllers[0]; i++)
		if (knob_write(CGROUP_MOUNT "/cgroup.subtree_control", controllers[i]) < 0)
			FAIL("cgroup: enable the %s controller: %s", controllers[i] + 1, strerror(errno));
	return 0;
}

int cgroup_prepare(char *err, size_t errlen)
{
	if (mount_hierarchy(err, errlen) < 0)
		return -1;
	if (mkdir(CGROUP_DIR, 0755) < 0 && errno != EEXIST)
		FAIL("cgroup: mkdir %s: %s", CGROUP_DIR, strerror(errno));
	return 0;
}

int cgroup_create(const char *what, const struct res *r, char *err, size_t errlen)
{
	if (cgroup_prepare(err, errlen) < 0)
		return -1;
	return apply_res(what, r, err, errlen);
}

int cgroup_update(const struct ctl_msg *m, char *err, size_t errlen)
{
	struct res r;
	if (access(CGROUP_DIR, F_OK) < 0)
		FAIL("%s: the container has no cgroup", m->name);
	if (cgroup_parse(m, &r, err, errlen) < 0)
		return -1;
	return apply_res(m->name, &r, err, errlen);
}

int cgroup_enter(int new_ns)
{
	if (knob_write(CGROUP_DIR "/cgroup.procs", "0") < 0)
		return -1;
	/* After the move, so the namespace's root is the container's cgroup, as runc does
	 * it: the container sees its own limits at the root of its cgroup mount. */
	return new_ns ? unshare(CLONE_NEWCGROUP) : 0;
}

int cgroup_stats(struct ctl_out *o, char *err, size_t errlen)
{
	static char text[8192];
	uint64_t v;
	if (read_cg("cpu.stat", text, sizeof text) < 0)
		FAIL("stats: read cpu.stat: %s", strerror(errno));
	ctl_addu(o, KEY_CPU_TOTAL, keyed(text, "usage_usec") * 1000);
	ctl_addu(o, KEY_CPU_USER, keyed(text, "user_usec") * 1000);
	ctl_addu(o, KEY_CPU_KERNEL, keyed(text, "system_usec") * 1000);
	ctl_addu(o, KEY_CPU_PERIODS, keyed(text, "nr_periods"));
	ctl_addu(o, KEY_CPU_THROTTLED_PERIODS, keyed(text, "nr_throttled"));
	ctl_addu(o, KEY_CPU_THROTTLED_TIME, keyed(text, "throttled_usec") * 1000);

	uint64_t usage;
	if (read_value("memory.current", &usage) < 0)
		FAIL("stats: read memory.current: %s", strerror(errno));
	ctl_addu(o, KEY_MEM_USAGE, usage);
	if (read_value("memory.max", &v) < 0)
		FAIL("stats: read memory.max: %s", strerror(errno));
	if (v == CG_MAX) {
		/* Without a limit of its own the container is bounded by the VM's memory. */
		struct sysinfo si;
		v = sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
	}
	ctl_addu(o, KEY_MEM_LIMIT, v);
	/* memory.peak (Linux 5.19+): the high-water mark since the cgroup was made. */
	ctl_addu(o, KEY_MEM_PEAK, read_value("memory.peak", &v) == 0 ? v : usage);
	if (read_cg("memory.events", text, sizeof text) == 0) {
		/* "max": times usage hit the limit, what v1 called failcnt (runc's mapping). */
		ctl_addu(o, KEY_MEM_FAILCNT, keyed(text, "max"));
		ctl_addu(o, KEY_OOM_KILLS, keyed(text, "oom_kill"));
	}
	if (read_cg("memory.stat", text, sizeof text) == 0)
		ctl_addu(o, KEY_MEM_CACHE, keyed(text, "file"));
	if (read_value("memory.swap.current", &v) == 0) {
		ctl_addu(o, KEY_SWAP_USAGE, v);
		if (read_value("memory.swap.max", &v) == 0 && v != CG_MAX)
			ctl_addu(o, KEY_SWAP_LIMIT, v);
	}

	if (read_value("pids.current", &v) < 0)
		FAIL("stats: read pids.current: %s", strerror(errno));
	ctl_addu(o, KEY_PIDS_CURRENT, v);
	if (read_value("pids.max", &v) == 0 && v != CG_MAX)
		ctl_addu(o, KEY_PIDS_LIMIT, v);
	return 0;
}

/* cgroup v2's freezer: the writes are asynchronous, and cgroup.events says "frozen 1"
 * once every task of the subtree is stopped (a task in the kernel stops on its way
 * out, so this is a matter of ms, longer only for one blocked in I/O). */
int cgroup_freeze(int on, int timeout_ms, char *err, size_t errlen)
{
	if (knob_write(CGROUP_DIR "/cgroup.freeze", on ? "1" : "0") < 0)
		FAIL("cgroup: %s: %s", on ? "freeze" : "thaw", strerror(errno));
	if (!on)
		return 0;
	static char events[512];
	for (int waited = 0;; waited++) {
		if (read_cg("cgroup.events", events, sizeof events) < 0) {
			int saved = errno;
			knob_write(CGROUP_DIR "/cgroup.freeze", "0");
			FAIL("cgroup: freeze: read cgroup.events: %s", strerror(saved));
		}
		if (strstr(events, "frozen 1"))
			return 0;
		if (waited >= timeout_ms) {
			/* Not left half frozen: the caller goes on with the container running. */
			knob_write(CGROUP_DIR "/cgroup.freeze", "0");
			FAIL("cgroup: freeze: the container's processes did not all stop within %d ms", timeout_ms);
		}
		usleep(1000);
	}
}
