/* devices.c — owns creating the nodes of linux.devices (devices.h). The config's node
 * replaces whatever the image or the default /dev had at that path: the config says
 * what the container must find there. */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int mkdir_parents(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		int r = mkdir(path, 0755);
		*s = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

int device_create(const char *root, const struct plan_device *d, const char **what)
{
	char path[4096];
	int n = snprintf(path, sizeof path, "%s%s", root, d->path);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		*what = "path";
		return -1;
	}
	*what = "mkdir";
	if (mkdir_parents(path) < 0)
		return -1;
	*what = "unlink";
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	*what = "mknod";
	if (mknod(path, d->type | d->mode, makedev(d->major, d->minor)) < 0)
		return -1;
	/* mknod applies the umask; the config's fileMode is exact. */
	*what = "chmod";
	if (chmod(path, d->mode) < 0)
		return -1;
	*what = "chown";
	return chown(path, d->uid, d->gid);
}
