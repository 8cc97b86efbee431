/* sysctl.c — owns writes to /proc knobs for the container (sysctl.h). They go through the
 * agent's /proc, which the container's mount namespace still has before its root is
 * switched: the container's own /proc may be absent or read-only. */
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int knob_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int sysctl_write(const char *kv)
{
	const char *eq = strchr(kv, '=');
	char path[512];
	size_t kl = (size_t)(eq - kv);
	int n = snprintf(path, sizeof path, "/proc/sys/%.*s", (int)kl, kv);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* runc's rule: every dot of the key is a path separator. */
	for (char *s = path + strlen("/proc/sys/"); *s; s++)
		if (*s == '.')
			*s = '/';
	return knob_write(path, eq + 1);
}

int oom_score_adj_write(int value)
{
	char buf[16];
	snprintf(buf, sizeof buf, "%d", value);
	return knob_write("/proc/self/oom_score_adj", buf);
}
