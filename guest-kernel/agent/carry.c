/* carry.c — the carry disk and its copies to and from the host (see carry.h).
 *
 * A copy makes the destination tree the same as the source: files, directories,
 * symlinks, nodes, with their owners, modes and mtimes; what the destination has and
 * the source has not is removed. Nothing is followed: every path is lstat'ed, so a
 * symlink is copied as a symlink. A regular file that looks unchanged (same size and
 * mtime) is not copied again, so a write-back costs what changed, not the volume.
 *
 * A slot's own inode is never replaced when it is a file: the container's bind mount
 * holds that inode, so a file slot is rewritten in place. Inside a directory, files
 * and symlinks are replaced by rename, as the kubelet's atomic writer does: a reader
 * sees the old entry or the new one, never half of one. A directory's new entries
 * come before its symlinks and its removals last, so a symlink swapped to a new
 * directory never points at nothing (sync_dir). */
#include "carry.h"
#include "boot.h"
#include "proto_gen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SHARE_MNT "/mnt/carry-share"
#define TMP_SUFFIX ".runx-carry-tmp"

static char disk_serial[64];
static char share_tag[64];
static uint64_t back_slots[CARRY_MAX_SLOTS];
static size_t nback;
static int mounted;

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "carry: %s %s: %s", what, path, strerror(errno));
	return -1;
}

static int tag_ok(const char *v)
{
	size_t n = strlen(v);
	if (!n || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
			return 0;
	return 1;
}

int carry_parse(const struct ctl_msg *m, char *err, size_t errlen)
{
	const char *disk = ctl_get(m, KEY_CARRY_DISK), *share = ctl_get(m, KEY_CARRY_SHARE);
	if (!disk && !share)
		return 0;
	if (!disk || !share || !tag_ok(disk) || !tag_ok(share)) {
		snprintf(err, errlen, "carry: %s and %s must both be given, [a-z0-9-]{1,63}", KEY_CARRY_DISK, KEY_CARRY_SHARE);
		return -1;
	}
	size_t n = 0;
	for (size_t i = 0; i < m->nfields; i++) {
		if (strcmp(m->fields[i].key, KEY_CARRY_BACK) != 0)
			continue;
		uint64_t v;
		if (n >= CARRY_MAX_SLOTS || parse_u64(m->fields[i].val, &v) < 0 || v >= CARRY_MAX_SLOTS) {
			snprintf(err, errlen, "carry: bad %s \"%s\"", KEY_CARRY_BACK, m->fields[i].val);
			return -1;
		}
		back_slots[n++] = v;
	}
	memcpy(disk_serial, disk, strlen(disk) + 1);
	memcpy(share_tag, share, strlen(share) + 1);
	nback = n;
	return 0;
}

/* /dev/vdX whose virtio serial is disk_serial: the host names the disk, not its
 * position, which depends on the order the kernel probes virtio-mmio devices in. */
static int find_disk(char *dev, size_t len, char *err, size_t errlen)
{
	DIR *d = opendir("/sys/block");
	if (!d)
		return fail(err, errlen, "open", "/sys/block");
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(d))) {
		if (strncmp(e->d_name, "vd", 2) != 0)
			continue;
		char p[300], serial[80] = "";
		snprintf(p, sizeof p, "/sys/block/%s/serial", e->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(serial, sizeof serial, f))
			serial[strcspn(serial, "\n")] = '\0';
		fclose(f);
		if (strcmp(serial, disk_serial) == 0) {
			snprintf(dev, len, "/dev/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	if (!found) {
		snprintf(err, errlen, "carry: no virtio disk with serial %s", disk_serial);
		return -1;
	}
	return 0;
}

int carry_mount(char *err, size_t errlen)
{
	if (!disk_serial[0] || mounted)
		return 0;
	char dev[300];
	if (find_disk(dev, sizeof dev, err, errlen) < 0)
		return -1;
	if (mkdir(CARRY_DIR, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, "mkdir", CARRY_DIR);
	if (mount(dev, CARRY_DIR, "ext4", MS_NOATIME, NULL) < 0)
		return fail(err, errlen, "mount", dev);
	mounted = 1;
	return 0;
}

static int join(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Removes path whatever it is, a directory with all it holds. */
static int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int r = 0;
	char p[4096];
	while (r == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r = join(p, sizeof p, path, e->d_name) < 0 ? -1 : remove_tree(p);
	}
	closedir(d);
	return r < 0 ? -1 : rmdir(path);
}

/* Owner, mode (not for a symlink) and times of st onto path. */
static int set_meta(const char *path, const struct stat *st)
{
	if (lchown(path, st->st_uid, st->st_gid) < 0)
		return -1;
	if (!S_ISLNK(st->st_mode) && chmod(path, st->st_mode & 07777) < 0)
		return -1;
	struct timespec t[2] = { st->st_atim, st->st_mtim };
	return utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
}

/* Whether set_meta would change nothing that matters (atime aside): most of a tree is
 * unchanged at each refresh, and three inode writes per file would be most of its cost. */
static int meta_same(const struct stat *s, const struct stat *d)
{
	return s->st_uid == d->st_uid && s->st_gid == d->st_gid &&
	       (S_ISLNK(s->st_mode) || (s->st_mode & 07777) == (d->st_mode & 07777)) &&
	       s->st_mtim.tv_sec == d->st_mtim.tv_sec && s->st_mtim.tv_nsec == d->st_mtim.tv_nsec;
}

static int copy_bytes(const char *src, const char *dst, int truncate_in_place)
{
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (truncate_in_place ? O_TRUNC : O_EXCL), 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int r = 0;
	while ((n = read(in, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				r = -1;
				break;
			}
			off += w;
		}
		if (r < 0)
			break;
	}
	if (n < 0)
		r = -1;
	/* The host's copy must be on its disk before the host is told the copy is done. */
	if (r == 0 && fsync(out) < 0)
		r = -1;
	close(in);
	if (close(out) < 0)
		r = -1;
	return r;
}

static int sync_path(const char *src, const char *dst, int top);

/* A relative symlink's first component ("..2026_x" of "..2026_x/key"), into out; 0 if
 * it has none to speak of (absolute, "." or ".."). */
static int link_head(const char *path, char *out, size_t len)
{
	ssize_t n = readlink(path, out, len - 1);
	if (n <= 0)
		return 0;
	out[n] = '\0';
	out[strcspn(out, "/")] = '\0';
	return out[0] && strcmp(out, ".") != 0 && strcmp(out, "..") != 0 && out[0] != '/';
}

/* Whether dst's directory has a symlink to name (by its first component) that src's
 * has not, the same: dst is mid-update, and removing name now would leave that
 * symlink dangling (the source changed after we read it; the next copy removes it). */
static int still_linked(const char *src, const char *dst, const char *name)
{
	DIR *dir = opendir(dst);
	if (!dir)
		return 0;
	struct dirent *e;
	int linked = 0;
	char s[4096], d[4096], head[4096], a[4096], b[4096];
	while (!linked && (e = readdir(dir))) {
		if (join(s, sizeof s, src, e->d_name) < 0 || join(d, sizeof d, dst, e->d_name) < 0)
			continue;
		if (!link_head(d, head, sizeof head) || strcmp(head, name) != 0)
			continue;
		ssize_t m = readlink(d, a, sizeof a - 1), n = readlink(s, b, sizeof b - 1);
		linked = n < 0 || m != n || memcmp(a, b, (size_t)n) != 0;
	}
	closedir(dir);
	return linked;
}

/* Whether symlink dst is missing or points elsewhere than symlink src. */
static int link_changed(const char *src, const char *dst)
{
	char a[4096], b[4096];
	ssize_t n = readlink(src, a, sizeof a), m = readlink(dst, b, sizeof b);
	return m < 0 || m != n || memcmp(a, b, (size_t)m) != 0;
}

/* One pass over src's entries: pass 0 all but symlinks, pass 1 symlinks only.
 * shallow: a directory both sides have is not gone into (the host said it is unchanged). */
static int sync_entries(const char *src, const char *dst, int links, int shallow)
{
	char s[4096], d[4096], head[4096], hs[4096], hd[4096];
	DIR *dir = opendir(src);
	if (!dir)
		return -1;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(dir))) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (join(s, sizeof s, src, e->d_name) < 0 || join(d, sizeof d, dst, e->d_name) < 0) {
			r = -1;
			break;
		}
		if (lstat(s, &st) < 0) {
			/* Gone since readdir: the removals below deal with it. */
			r = errno == ENOENT ? 0 : -1;
			continue;
		}
		if ((S_ISLNK(st.st_mode) != 0) != (links != 0))
			continue;
		struct stat dt;
		if (shallow && S_ISDIR(st.st_mode) && lstat(d, &dt) == 0 && S_ISDIR(dt.st_mode))
			continue;
		/* What a symlink points at in this directory is here, whole, before it is:
		 * the source may have made it after the first pass read the directory, and a
		 * shallow pass did not go into it (an earlier copy may have caught it
		 * half-written). */
		if (links && link_head(s, head, sizeof head) && join(hs, sizeof hs, src, head) == 0 &&
		    join(hd, sizeof hd, dst, head) == 0 && lstat(hs, &st) == 0 &&
		    (lstat(hd, &st) < 0 || (shallow && link_changed(s, d))))
			r = sync_path(hs, hd, 0);
		if (r == 0)
			r = sync_path(s, d, 0);
		/* Removed from the source while we copied it: as if gone before readdir. */
		if (r < 0 && errno == ENOENT && lstat(s, &st) < 0 && errno == ENOENT)
			r = 0;
	}
	closedir(dir);
	return r;
}

/* Removes what dst has and src has not: pass 0 symlinks (a stale ..data.tmp first),
 * pass 1 the rest, each unless a symlink being swapped still points at it. */
static int remove_extra(const char *src, const char *dst, int rest)
{
	char s[4096], d[4096];
	DIR *dir = opendir(dst);
	if (!dir)
		return -1;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(dir))) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (join(s, sizeof s, src, e->d_name) < 0 || join(d, sizeof d, dst, e->d_name) < 0)
			r = -1;
		else if (lstat(s, &st) < 0 && errno == ENOENT && lstat(d, &st) == 0 &&
			 (S_ISLNK(st.st_mode) != 0) == (rest == 0) && !still_linked(src, dst, e->d_name))
			r = remove_tree(d);
	}
	closedir(dir);
	return r;
}

/* New directories and files first, then symlinks (each replaced by rename), then
 * removals: the kubelet's atomic writer makes ..2026_x, swaps ..data to it and removes
 * the old one, and a reader in the container must never find ..data dangling. */
static int sync_dir(const char *src, const char *dst, int shallow)
{
	if (sync_entries(src, dst, 0, shallow) < 0 || sync_entries(src, dst, 1, shallow) < 0)
		return -1;
	return remove_extra(src, dst, 0) < 0 ? -1 : remove_extra(src, dst, 1);
}

/* Makes dst the same as src. top: dst is a slot itself, whose inode a file bind holds. */
static int sync_path(const char *src, const char *dst, int top)
{
	struct stat s, d;
	if (lstat(src, &s) < 0)
		return -1;
	int have = lstat(dst, &d) == 0;
	if (!have && errno != ENOENT)
		return -1;
	if (have && (s.st_mode & S_IFMT) != (d.st_mode & S_IFMT)) {
		if (remove_tree(dst) < 0)
			return -1;
		have = 0;
	}
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, dst) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (S_ISDIR(s.st_mode)) {
		if (!have && mkdir(dst, 0700) < 0)
			return -1;
		if (sync_dir(src, dst, 0) < 0)
			return -1;
	} else if (S_ISREG(s.st_mode)) {
		if (have && d.st_size == s.st_size && d.st_mtim.tv_sec == s.st_mtim.tv_sec &&
		    d.st_mtim.tv_nsec == s.st_mtim.tv_nsec)
			return meta_same(&s, &d) ? 0 : set_meta(dst, &s);
		if (top) {
			if (copy_bytes(src, dst, 1) < 0)
				return -1;
		} else {
			unlink(tmp);
			if (copy_bytes(src, tmp, 0) < 0 || set_meta(tmp, &s) < 0 || rename(tmp, dst) < 0) {
				unlink(tmp);
				return -1;
			}
			return 0;
		}
	} else if (S_ISLNK(s.st_mode)) {
		char target[4096], old[4096];
		ssize_t n = readlink(src, target, sizeof target - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		ssize_t m = have ? readlink(dst, old, sizeof old - 1) : -1;
		if (m >= 0)
			old[m] = '\0';
		if (m >= 0 && strcmp(old, target) == 0 && meta_same(&s, &d))
			return 0;
		if (m < 0 || strcmp(old, target) != 0) {
			unlink(tmp);
			if (symlink(target, tmp) < 0 || rename(tmp, dst) < 0) {
				unlink(tmp);
				return -1;
			}
		}
	} else {
		if (have && d.st_rdev != s.st_rdev && remove_tree(dst) < 0)
			return -1;
		if ((!have || d.st_rdev != s.st_rdev) && mknod(dst, s.st_mode, s.st_rdev) < 0)
			return -1;
	}
	return set_meta(dst, &s);
}

/* Read-only and cached for a refresh, which only reads the host's side and looks at
 * each entry more than once (each 9p round trip is dear under TCG); the mount is
 * fresh for every copy, so nothing is older than the copy. A write-back writes
 * through (cache=none): the host has it all when the share is unmounted. */
static int mount_share(int to_host, char *err, size_t errlen)
{
	if (mkdir(SHARE_MNT, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, "mkdir", SHARE_MNT);
	if (mount(share_tag, SHARE_MNT, "9p", to_host ? 0 : MS_RDONLY,
		  to_host ? "trans=virtio,version=9p2000.L,cache=none" : "trans=virtio,version=9p2000.L,cache=loose") < 0)
		return fail(err, errlen, "mount share", share_tag);
	return 0;
}

/* Whether rel (a directory of a slot the host names) is a real directory on both
 * sides, every component of it: 1 yes, 0 gone from either side (its parent's change
 * says so), -1 not to be trusted (a symlink or a file on the way, "..", absolute). */
static int hint_ok(const char *a, const char *b, const char *rel)
{
	char p[4096], q[4096];
	if (rel[0] == '/' || strlen(rel) >= 2048)
		return -1;
	if (strcmp(rel, ".") == 0)
		return 1;
	for (const char *c = rel;;) {
		size_t len = strcspn(c, "/");
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		int k = (int)(c - rel + len);
		struct stat s, d;
		snprintf(p, sizeof p, "%s/%.*s", a, k, rel);
		snprintf(q, sizeof q, "%s/%.*s", b, k, rel);
		int hs = lstat(p, &s) == 0, hd = lstat(q, &d) == 0;
		if ((hs && !S_ISDIR(s.st_mode)) || (hd && !S_ISDIR(d.st_mode)))
			return -1;
		if (!hs || !hd)
			return 0;
		if (!c[len])
			return 1;
		c += len + 1;
	}
}

/* A refresh of slot a -> b: only the directories the host's `dir=<slot>:<rel>` name,
 * each with its own entries (a new subdirectory whole), when it names any and all of
 * them are safe to go to; else the whole slot. */
static int refresh_slot(uint64_t slot, const char *a, const char *b, const struct ctl_msg *m)
{
	char prefix[32];
	int n = snprintf(prefix, sizeof prefix, "%llu:", (unsigned long long)slot), hinted = 0;
	for (size_t i = 0; m && i < m->nfields; i++) {
		const char *v = m->fields[i].val;
		if (strcmp(m->fields[i].key, KEY_DIR) != 0 || strncmp(v, prefix, (size_t)n) != 0)
			continue;
		if (hint_ok(a, b, v + n) < 0)
			return sync_path(a, b, 1);
		hinted = 1;
	}
	if (!hinted)
		return sync_path(a, b, 1);
	/* In the host's order, parents first: a directory a parent's copy made whole is then one to leave. */
	for (size_t i = 0; i < m->nfields; i++) {
		const char *v = m->fields[i].val;
		char p[4096], q[4096];
		if (strcmp(m->fields[i].key, KEY_DIR) != 0 || strncmp(v, prefix, (size_t)n) != 0 || hint_ok(a, b, v + n) != 1)
			continue;
		snprintf(p, sizeof p, "%s/%s", a, v + n);
		snprintf(q, sizeof q, "%s/%s", b, v + n);
		struct stat st;
		if (sync_dir(p, q, 1) < 0 || lstat(p, &st) < 0 || set_meta(q, &st) < 0)
			return -1;
	}
	return 0;
}

int carry_sync(int to_host, const uint64_t *slots, size_t n, const struct ctl_msg *hints, char *err, size_t errlen)
{
	if (!mounted) {
		snprintf(err, errlen, "carry: no carry disk in this VM");
		return -1;
	}
	if (mount_share(to_host, err, errlen) < 0)
		return -1;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		char a[64], b[64];
		snprintf(a, sizeof a, SHARE_MNT "/%llu", (unsigned long long)slots[i]);
		snprintf(b, sizeof b, CARRY_DIR "/%llu", (unsigned long long)slots[i]);
		if ((to_host ? sync_path(b, a, 1) : refresh_slot(slots[i], a, b, hints)) < 0)
			r = fail(err, errlen, to_host ? "write back slot" : "refresh slot", to_host ? b + sizeof CARRY_DIR : a + sizeof SHARE_MNT);
	}
	/* The container's side is on the carry disk before the host hears it is done. */
	if (r == 0 && !to_host)
		sync();
	/* Unmounted whatever happened: a mounted share would block the next migration. */
	if (umount2(SHARE_MNT, MNT_DETACH) < 0 && r == 0)
		r = fail(err, errlen, "unmount share", share_tag);
	return r;
}

int carry_write_back(char *err, size_t errlen)
{
	if (!mounted || !nback)
		return 0;
	return carry_sync(1, back_slots, nback, NULL, err, errlen);
}
