/* oci-checker — runs as a container's process and checks, from the inside, that what
 * the bundle's config.json asks for holds (the runtime-tools "runtimetest" idea).
 *
 * It parses no JSON: test/oci-conformance/digest-config.mjs turns config.json into
 * /oci-expect beforehand, one expectation per line, tab-separated:
 *     KIND <TAB> arg <TAB> arg ...
 * and this program checks each line and prints TAP (one "ok"/"not ok" per line, the
 * plan last). Exit status 0 when every check passed. See the digest for each KIND. */
#include <dirent.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define EXPECT_FILE "/oci-expect"
#define MAXF 10

extern char **environ;
static int ntests, nfailed;

__attribute__((format(printf, 2, 3))) static void result(int ok, const char *fmt, ...)
{
	va_list ap;
	printf("%s %d - ", ok ? "ok" : "not ok", ++ntests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		nfailed++;
}

/* Reads a whole small file into buf (NUL-terminated); -1 with errno on failure. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	ssize_t n;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Trims trailing whitespace and squeezes runs of blanks/tabs to one space
 * (/proc/sys values like "4096\t87380\t6291456"). */
static void squeeze(char *s)
{
	char *w = s;
	int blank = 0;
	for (char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n') {
			blank = 1;
			continue;
		}
		if (blank && w != s)
			*w++ = ' ';
		blank = 0;
		*w++ = *r;
	}
	*w = '\0';
}

/* The value after "Key:" in /proc/self/status, squeezed; "" if absent. */
static const char *status_field(const char *key)
{
	static char buf[8192], val[256];
	val[0] = '\0';
	if (slurp("/proc/self/status", buf, sizeof buf) < 0)
		return val;
	size_t kl = strlen(key);
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ':') {
			char *e = strchr(l, '\n');
			size_t n = e ? (size_t)(e - l - kl - 1) : strlen(l + kl + 1);
			if (n >= sizeof val)
				n = sizeof val - 1;
			memcpy(val, l + kl + 1, n);
			val[n] = '\0';
			squeeze(val);
			break;
		}
	}
	return val;
}

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return x < y ? -1 : x > y;
}

static void check_groups(const char *want)
{
	gid_t g[256];
	int n = getgroups(256, g);
	char got[2048] = "";
	qsort(g, n < 0 ? 0 : (size_t)n, sizeof g[0], cmp_gid);
	for (int i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u", i ? "," : "", (unsigned)g[i]);
	result(strcmp(got, want) == 0, "additionalGids are [%s] (got [%s])", want, got);
}

static void check_env(const char *kv)
{
	int found = 0;
	for (char **e = environ; *e; e++)
		found |= strcmp(*e, kv) == 0;
	result(found, "env has %s", kv);
}

static void check_cwd(const char *want)
{
	/* By inode, not getcwd(2): a seccomp test may deny getcwd. */
	struct stat a, b;
	int ok = stat(".", &a) == 0 && stat(want, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	result(ok, "cwd is %s", want);
}

/* One line of /proc/self/mountinfo split into the fields we use. */
struct mnt {
	char point[512], opts[512], type[64], super[512];
	char tags[256]; /* the optional fields (shared:N master:N unbindable ...), comma-joined */
};

static int read_mounts(struct mnt *m, int max)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	char line[2048];
	int n = 0;
	while (n < max && fgets(line, sizeof line, f)) {
		/* id parent maj:min root point opts [optional...] - type source super */
		char *fld[32];
		int nf = 0;
		for (char *t = strtok(line, " \n"); t && nf < 32; t = strtok(NULL, " \n"))
			fld[nf++] = t;
		int dash = -1;
		for (int i = 6; i < nf; i++)
			if (strcmp(fld[i], "-") == 0) {
				dash = i;
				break;
			}
		if (nf < 6 || dash < 0 || dash + 2 >= nf)
			continue;
		snprintf(m[n].point, sizeof m[n].point, "%s", fld[4]);
		snprintf(m[n].opts, sizeof m[n].opts, "%s", fld[5]);
		snprintf(m[n].type, sizeof m[n].type, "%s", fld[dash + 1]);
		snprintf(m[n].super, sizeof m[n].super, "%s", dash + 3 < nf ? fld[dash + 3] : "");
		m[n].tags[0] = '\0';
		for (int i = 6; i < dash; i++)
			snprintf(m[n].tags + strlen(m[n].tags), sizeof m[n].tags - strlen(m[n].tags), "%s%s",
				 i > 6 ? "," : "", fld[i]);
		n++;
	}
	fclose(f);
	return n;
}

static int has_opt(const char *list, const char *opt)
{
	size_t ol = strlen(opt);
	for (const char *s = list; s && *s;) {
		const char *c = strchr(s, ',');
		size_t l = c ? (size_t)(c - s) : strlen(s);
		if (l == ol && strncmp(s, opt, l) == 0)
			return 1;
		s = c ? c + 1 : NULL;
	}
	return 0;
}

/* "a|b" matches a or b. */
static int one_of(const char *alts, const char *v)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", alts);
	for (char *t = strtok(buf, "|"); t; t = strtok(NULL, "|"))
		if (strcmp(t, v) == 0)
			return 1;
	return 0;
}

static struct mnt mounts[512];
static int nmounts = -1, last_mount_index = -1;

/* mount DEST TYPE(|TYPE) OPT,OPT: DEST is mounted, with that type and those per-mount
 * options, and after the previous "mount" line's DEST in mountinfo (config order). */
static void check_mount(char **f, int nf)
{
	if (nmounts < 0)
		nmounts = read_mounts(mounts, 512);
	int at = -1;
	for (int i = 0; i < nmounts && at < 0; i++)
		if (strcmp(mounts[i].point, f[1]) == 0)
			at = i;
	if (at < 0) {
		result(0, "%s is mounted", f[1]);
		return;
	}
	const struct mnt *m = &mounts[at];
	if (strcmp(f[2], "-") != 0)
		result(one_of(f[2], m->type), "%s has type %s (got %s)", f[1], f[2], m->type);
	if (nf > 3 && f[3][0]) {
		char want[512], miss[512] = "";
		snprintf(want, sizeof want, "%s", f[3]);
		for (char *t = strtok(want, ","); t; t = strtok(NULL, ","))
			if (!has_opt(m->opts, t) && !has_opt(m->super, t))
				snprintf(miss + strlen(miss), sizeof miss - strlen(miss), " %s", t);
		result(!miss[0], "%s has options %s (missing:%s; got %s)", f[1], f[3], miss, m->opts);
	}
	result(at > last_mount_index, "%s is mounted after the mounts before it in the config", f[1]);
	last_mount_index = at;
}

/* A tag of the form PREFIX:N among the optional fields. */
static int has_tag(const char *tags, const char *prefix)
{
	size_t pl = strlen(prefix);
	for (const char *s = tags; s && *s;) {
		if (strncmp(s, prefix, pl) == 0 && s[pl] == ':')
			return 1;
		s = strchr(s, ',');
		s = s ? s + 1 : NULL;
	}
	return 0;
}

/* prop DEST shared|slave|private|unbindable: the propagation type of the mount on top
 * at DEST (the last one listed there), from mountinfo's optional fields
 * (proc(5)). shared: in a peer group (shared:N); unbindable: "unbindable"; slave: not
 * shared and not unbindable (master:N only when the master is visible, which a mount
 * copied from a private one never has); private: no tag at all. */
static void check_prop(const char *dest, const char *want)
{
	if (nmounts < 0)
		nmounts = read_mounts(mounts, 512);
	int at = -1;
	for (int i = 0; i < nmounts; i++)
		if (strcmp(mounts[i].point, dest) == 0)
			at = i;
	if (at < 0) {
		result(0, "%s is mounted (for its propagation)", dest);
		return;
	}
	const char *t = mounts[at].tags;
	int shared = has_tag(t, "shared"), unbindable = has_opt(t, "unbindable");
	int ok = !strcmp(want, "shared")       ? shared
		 : !strcmp(want, "unbindable") ? unbindable
		 : !strcmp(want, "slave")      ? !shared && !unbindable
		 : !strcmp(want, "private")    ? !t[0]
					       : 0;
	result(ok, "%s has propagation %s (optional fields: %s)", dest, want, t[0] ? t : "none");
}

static int path_readonly(const char *p)
{
	struct statvfs sv;
	return statvfs(p, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

static void check_masked(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0) {
		result(errno == ENOENT, "masked %s is absent or unreadable (%s)", p, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(p);
		int entries = 0;
		struct dirent *e;
		while (d && (e = readdir(d)))
			entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		if (d)
			closedir(d);
		result(entries == 0, "masked directory %s is empty (%d entries)", p, entries);
		return;
	}
	char buf[64];
	ssize_t n = slurp(p, buf, sizeof buf);
	result(n <= 0, "masked %s reads nothing (%zd bytes)", p, n);
}

static void check_node(const char *p, char type, const char *maj, const char *min, char **rest)
{
	struct stat st;
	if (lstat(p, &st) < 0) {
		result(0, "%s exists: %s", p, strerror(errno));
		return;
	}
	mode_t want = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
	int ok = (st.st_mode & S_IFMT) == want;
	if (type != 'p')
		ok = ok && major(st.st_rdev) == strtoul(maj, NULL, 10) &&
		     minor(st.st_rdev) == strtoul(min, NULL, 10);
	result(ok, "%s is a %c device %s:%s (got mode %o, %u:%u)", p, type, maj, min,
	       (unsigned)st.st_mode, major(st.st_rdev), minor(st.st_rdev));
	if (rest) { /* mode uid gid */
		unsigned mode = (unsigned)strtoul(rest[0], NULL, 8);
		result((st.st_mode & 07777) == mode && st.st_uid == strtoul(rest[1], NULL, 10) &&
			       st.st_gid == strtoul(rest[2], NULL, 10),
		       "%s has mode %o, owner %s:%s (got %o, %u:%u)", p, mode, rest[1], rest[2],
		       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid);
	}
}

static void check_seccomp_errno(const char *name, const char *want)
{
	char buf[256];
	long r;
	errno = 0;
	if (strcmp(name, "getcwd") == 0)
		r = syscall(SYS_getcwd, buf, sizeof buf);
	else if (strcmp(name, "mkdir") == 0)
		r = syscall(SYS_mkdir, "/tmp/oci-checker-dir", 0755);
	else if (strcmp(name, "rmdir") == 0)
		r = syscall(SYS_rmdir, "/tmp/oci-checker-no-such-dir");
	else {
		result(0, "seccomp: the checker cannot call %s", name);
		return;
	}
	int e = r < 0 ? errno : 0;
	result(e == atoi(want), "%s fails with errno %s (got %d: %s)", name, want, e, strerror(e));
}

static void check_ns(const char *type, const char *outside)
{
	char link[64], target[128];
	snprintf(link, sizeof link, "/proc/self/ns/%s", type);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n < 0) {
		result(0, "%s namespace: readlink %s: %s", type, link, strerror(errno));
		return;
	}
	target[n] = '\0';
	const char *ino = strchr(target, '[');
	result(ino && strtoull(ino + 1, NULL, 10) != strtoull(outside, NULL, 10),
	       "the %s namespace is a new one (%s, outside %s)", type, target, outside);
}

/* idmap FILE "C H S,C H S,...": /proc/self/FILE has exactly these lines, in any order. */
static void check_idmap(const char *file, const char *want)
{
	char path[64], buf[8192], got[8192] = "";
	int lines = 0, wanted = 0, missing = 0;
	snprintf(path, sizeof path, "/proc/self/%s", file);
	if (slurp(path, buf, sizeof buf) < 0) {
		result(0, "%s: %s", path, strerror(errno));
		return;
	}
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		squeeze(l);
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", lines++ ? "," : "", l);
	}
	char w[4096];
	snprintf(w, sizeof w, "%s", want);
	for (char *e = strtok(w, ","); e; e = strtok(NULL, ",")) {
		wanted++;
		missing += !has_opt(got, e);
	}
	result(!missing && lines == wanted, "%s is [%s] (got [%s])", file, want, got);
}

/* netiso MAC,MAC,...: no interface the container sees has one of the host's MACs. */
static void check_netiso(const char *host_macs)
{
	struct if_nameindex *ifs = if_nameindex();
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char seen[1024] = "";
	int leaked = 0;
	for (struct if_nameindex *i = ifs; i && i->if_index; i++) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", i->if_name);
		char mac[32] = "";
		if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0) {
			unsigned char *a = (unsigned char *)ifr.ifr_hwaddr.sa_data;
			snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
		}
		snprintf(seen + strlen(seen), sizeof seen - strlen(seen), " %s", i->if_name);
		if (mac[0] && strcmp(mac, "00:00:00:00:00:00") && has_opt(host_macs, mac))
			leaked = 1;
	}
	if (ifs)
		if_freenameindex(ifs);
	if (s >= 0)
		close(s);
	result(!leaked, "the network namespace is isolated: no host interface visible (sees:%s)", seen);
}

static void check_line(char **f, int nf, int argc, char **argv)
{
	const char *k = f[0];
	char buf[4096];
	if (!strcmp(k, "argc") && nf == 2) {
		result(argc == atoi(f[1]), "argc is %s (got %d)", f[1], argc);
	} else if (!strcmp(k, "arg") && nf == 3) {
		int i = atoi(f[1]);
		result(i < argc && !strcmp(argv[i], f[2]), "args[%d] is \"%s\"", i, f[2]);
	} else if (!strcmp(k, "env") && nf == 2) {
		check_env(f[1]);
	} else if (!strcmp(k, "cwd") && nf == 2) {
		check_cwd(f[1]);
	} else if (!strcmp(k, "uid") && nf == 2) {
		result(getuid() == strtoul(f[1], NULL, 10) && geteuid() == getuid(), "uid is %s (got %u)", f[1], (unsigned)getuid());
	} else if (!strcmp(k, "gid") && nf == 2) {
		result(getgid() == strtoul(f[1], NULL, 10) && getegid() == getgid(), "gid is %s (got %u)", f[1], (unsigned)getgid());
	} else if (!strcmp(k, "groups") && nf <= 2) {
		check_groups(nf == 2 ? f[1] : "");
	} else if (!strcmp(k, "status") && nf == 3) {
		/* A /proc/self/status field: Umask, NoNewPrivs, Cap*, Seccomp. */
		const char *got = status_field(f[1]);
		result(!strcmp(got, f[2]), "%s is %s (got %s)", f[1], f[2], got);
	} else if (!strcmp(k, "rlimit") && nf == 5) {
		struct rlimit rl;
		int ok = getrlimit(atoi(f[1]), &rl) == 0 && rl.rlim_cur == strtoull(f[2], NULL, 10) &&
			 rl.rlim_max == strtoull(f[3], NULL, 10);
		result(ok, "%s is %s/%s (got %llu/%llu)", f[4], f[2], f[3], (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
	} else if (!strcmp(k, "oom") && nf == 2) {
		slurp("/proc/self/oom_score_adj", buf, sizeof buf);
		squeeze(buf);
		result(!strcmp(buf, f[1]), "oom_score_adj is %s (got %s)", f[1], buf);
	} else if (!strcmp(k, "hostname") && nf == 2) {
		gethostname(buf, sizeof buf);
		result(!strcmp(buf, f[1]), "hostname is %s (got %s)", f[1], buf);
	} else if (!strcmp(k, "mount") && nf >= 3) {
		check_mount(f, nf);
	} else if (!strcmp(k, "prop") && nf == 3) {
		check_prop(f[1], f[2]);
	} else if (!strcmp(k, "rootro") && nf == 2) {
		result(path_readonly("/") == atoi(f[1]), "root is %s", atoi(f[1]) ? "read-only" : "writable");
	} else if (!strcmp(k, "masked") && nf == 2) {
		check_masked(f[1]);
	} else if (!strcmp(k, "readonly") && nf == 2) {
		struct stat st;
		if (stat(f[1], &st) < 0 && errno == ENOENT)
			result(1, "readonly %s is absent # SKIP", f[1]);
		else
			result(path_readonly(f[1]), "%s is read-only", f[1]);
	} else if (!strcmp(k, "chardev") && nf == 4) {
		check_node(f[1], 'c', f[2], f[3], NULL);
	} else if (!strcmp(k, "device") && nf == 8) {
		check_node(f[1], f[2][0] == 'u' ? 'c' : f[2][0], f[3], f[4], f + 5);
	} else if (!strcmp(k, "symlink") && nf == 3) {
		ssize_t n = readlink(f[1], buf, sizeof buf - 1);
		buf[n < 0 ? 0 : n] = '\0';
		result(!strcmp(buf, f[2]), "%s links to %s (got %s)", f[1], f[2], buf);
	} else if (!strcmp(k, "sysctl") && nf == 3) {
		char path[512], want[512];
		snprintf(path, sizeof path, "/proc/sys/%s", f[1]);
		for (char *s = path + 10; *s; s++)
			if (*s == '.')
				*s = '/';
		if (slurp(path, buf, sizeof buf) < 0)
			snprintf(buf, sizeof buf, "(%s)", strerror(errno));
		squeeze(buf);
		snprintf(want, sizeof want, "%s", f[2]);
		squeeze(want);
		result(!strcmp(buf, want), "sysctl %s is %s (got %s)", f[1], want, buf);
	} else if (!strcmp(k, "seccomp_errno") && nf == 3) {
		check_seccomp_errno(f[1], f[2]);
	} else if (!strcmp(k, "ns") && nf == 3) {
		check_ns(f[1], f[2]);
	} else if (!strcmp(k, "idmap") && nf == 3) {
		check_idmap(f[1], f[2]);
	} else if (!strcmp(k, "netiso") && nf <= 2) {
		check_netiso(nf == 2 ? f[1] : "");
	} else if (!strcmp(k, "pid1") && nf == 1) {
		result(getpid() == 1, "the process is PID 1 of its PID namespace (got %d)", (int)getpid());
	} else {
		result(0, "unknown expectation %s (%d fields)", k, nf);
	}
}

int main(int argc, char **argv)
{
	/* Line-buffered stdout would interleave badly with nothing; full buffering is
	 * fine, everything is flushed at exit. */
	FILE *in = fopen(EXPECT_FILE, "re");
	if (!in) {
		printf("Bail out! cannot open %s: %s\n", EXPECT_FILE, strerror(errno));
		return 2;
	}
	char line[8192];
	while (fgets(line, sizeof line, in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		char *f[MAXF];
		int nf = 0;
		for (char *s = line; s && nf < MAXF;) {
			f[nf++] = s;
			s = strchr(s, '\t');
			if (s)
				*s++ = '\0';
		}
		check_line(f, nf, argc, argv);
	}
	fclose(in);
	printf("1..%d\n", ntests);
	return nfailed ? 1 : 0;
}
