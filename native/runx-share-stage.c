/* runx-share-stage.c — the host side of a container's bind mounts. QEMU exports one
 * virtio-9p share per container: a staging directory holding one slot per bind mount
 * (slot i is STAGE/i), each a bind mount of exactly that source (a file bind is a bind
 * of that one file, never of its directory), read-only ones made read-only here, on
 * the host, so no guest — not even one with CAP_SYS_ADMIN remounting its own view —
 * can write through them. The staging happens in a mount namespace of QEMU's own
 * (slave of the host's, so the host's unmounts still reach it and nothing made here
 * reaches the host): the host mount table never sees it, and it all goes when QEMU
 * ends, however it ends. Then it execs QEMU, which keeps its pid and its parent-death
 * signal. Sources come as argv, never inside a QEMU option string, so a comma or any
 * other byte in a path is just part of the path.
 *
 * usage: runx-share-stage STAGE [MODE SOURCE]... -- COMMAND [ARG]...
 *   MODE: rw, ro (bind), rrw, rro (recursive bind: the source's submounts too), or
 *   skip (slot i stays an empty directory: runx fills the carry disk from the other
 *   slots, and the slot numbers must stay those of the container's binds)
 * Exit 125 on a staging failure, with one line on stderr (QEMU's boot error shows it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define STAGE_FAIL 125

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...);

static void fail(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "runx-share-stage: %s\n", msg);
	exit(STAGE_FAIL);
}

/* The per-mount flags a bind remount must restate, or it would clear them. */
static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	return f;
}

/* Read-only for the slot's mount and, when recursive, every mount below it. */
static void make_readonly(const char *slot, int recursive)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (mount_setattr(AT_FDCWD, slot, AT_SYMLINK_NOFOLLOW | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) == 0)
		return;
	if (errno != ENOSYS)
		fail("make %s read-only: %s", slot, strerror(errno));
	/* Before Linux 5.12: only one mount at a time can be remounted. */
	if (recursive)
		fail("make %s read-only: a read-only rbind needs Linux 5.12 (mount_setattr)", slot);
	if (mount(NULL, slot, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(slot), NULL) < 0)
		fail("make %s read-only: %s", slot, strerror(errno));
}

/* Makes slot STAGE/i the same kind as the source (bind mounts need a directory for a
 * directory and a non-directory for anything else) and binds the source onto it. */
static void stage_one(int stage_fd, const char *stage, size_t i, const char *mode, const char *source)
{
	if (strcmp(mode, "skip") == 0) {
		char skipped[32];
		snprintf(skipped, sizeof skipped, "%zu", i);
		if (mkdirat(stage_fd, skipped, 0700) < 0)
			fail("mkdir %s/%s: %s", stage, skipped, strerror(errno));
		return;
	}
	int recursive = strlen(mode) == 3 && mode[0] == 'r';
	const char *access = recursive ? mode + 1 : mode;
	int readonly = strcmp(access, "ro") == 0;
	if (!readonly && strcmp(access, "rw") != 0)
		fail("bad mode %s for %s (rw, ro, rrw, rro or skip)", mode, source);
	if (source[0] != '/')
		fail("source %s is not an absolute path", source);

	struct stat st;
	if (stat(source, &st) < 0)
		fail("bind source %s: %s", source, strerror(errno));
	char name[32], slot[4096];
	snprintf(name, sizeof name, "%zu", i);
	if ((size_t)snprintf(slot, sizeof slot, "%s/%s", stage, name) >= sizeof slot)
		fail("staging path too long for %s", source);
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(stage_fd, name, 0700) < 0)
			fail("mkdir %s: %s", slot, strerror(errno));
	} else {
		int fd = openat(stage_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			fail("create %s: %s", slot, strerror(errno));
		close(fd);
	}
	if (mount(source, slot, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
		fail("bind %s: %s", source, strerror(errno));
	if (readonly)
		make_readonly(slot, recursive);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		fail("usage: runx-share-stage STAGE [MODE SOURCE]... -- COMMAND [ARG]...");
	const char *stage = argv[1];
	int sep = 2;
	while (sep < argc && strcmp(argv[sep], "--") != 0)
		sep++;
	if (sep >= argc - 1 || (sep - 2) % 2 != 0)
		fail("usage: runx-share-stage STAGE [MODE SOURCE]... -- COMMAND [ARG]...");
	size_t n = (size_t)(sep - 2) / 2;

	if (unshare(CLONE_NEWNS) < 0)
		fail("unshare the mount namespace: %s", strerror(errno));
	/* Slave, not private: a host filesystem unmounted later is let go here too. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		fail("make / a slave mount: %s", strerror(errno));
	/* A tmpfs of its own, so the slots are made here and not in the host's directory;
	 * as many inodes as slots, and no room for anything else. */
	/* The mount point, in the state directory (on the host's file system: empty there). */
	if (mkdir(stage, 0700) < 0 && errno != EEXIST)
		fail("mkdir %s: %s", stage, strerror(errno));
	char opts[64];
	snprintf(opts, sizeof opts, "mode=0700,size=16k,nr_inodes=%zu", n + 8);
	if (mount("runx-share", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		fail("mount the staging tmpfs on %s: %s", stage, strerror(errno));
	int stage_fd = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (stage_fd < 0)
		fail("open %s: %s", stage, strerror(errno));
	for (size_t i = 0; i < n; i++)
		stage_one(stage_fd, stage, i, argv[2 + 2 * i], argv[3 + 2 * i]);
	close(stage_fd);
	/* The share's root itself read-only: the guest can make nothing beside the slots.
	 * A bind remount changes this mount only, not the slots' mounts on it. */
	if (mount(NULL, stage, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("make %s read-only: %s", stage, strerror(errno));

	execvp(argv[sep + 1], argv + sep + 1);
	fail("exec %s: %s", argv[sep + 1], strerror(errno));
}
