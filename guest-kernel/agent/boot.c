/* boot.c — owns PID 1's own environment: console, pseudo filesystems, the agent port
 * lookup, console logging and VM shutdown (see boot.h). */
#include "boot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void logmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "runx-agent: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	/* One write(2) per line, so lines from the agent stay whole on the console. */
	if (write(2, buf, strlen(buf)) < 0) {
		/* The console is all we have; nowhere else to report. */
	}
}

void vm_shutdown(void)
{
	sync();
	/* PID 1 may not exit (the kernel would panic); rebooting is how the VM ends. */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

void fatal(const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	logmsg("fatal: %s", buf);
	vm_shutdown();
}

int boot_init(void)
{
	/* The initramfs has an empty /dev, so the kernel found no console to give us and
	 * fds 0..2 are closed: mount devtmpfs first, and the three opens below land on
	 * 0, 1 and 2 because open(2) returns the lowest free fd. */
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 && errno != EBUSY)
		return -1;
	for (int i = 0; i < 3; i++) {
		int fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd < 0)
			fd = open("/dev/null", O_RDWR);
		if (fd > 2)
			close(fd);
	}
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		logmsg("mount /proc: %s", strerror(errno));
		return -1;
	}
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		logmsg("mount /sys: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Looks once through /sys/class/virtio-ports for the port named AGENT_PORT_NAME.
 * 1 and its device name in dev, or 0 if not there (yet). */
static int find_port(char *dev, size_t devlen)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return 0;
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], name[64];
		snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, name, sizeof name - 1);
		close(fd);
		if (n <= 0)
			continue;
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, AGENT_PORT_NAME) == 0) {
			snprintf(dev, devlen, "/dev/%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int boot_open_port(char *err, size_t errlen)
{
	/* Ports appear after boot has handed over to us: the host announces them (and
	 * their names) on the virtio-serial control queue asynchronously, and devtmpfs
	 * gets the node a moment later. Retry for up to 10 s. */
	char dev[300];
	for (int tries = 0; tries < 1000; tries++) {
		if (find_port(dev, sizeof dev)) {
			int fd = open(dev, O_RDWR | O_CLOEXEC);
			if (fd >= 0)
				return fd;
			if (errno != ENOENT) {
				snprintf(err, errlen, "open %s: %s", dev, strerror(errno));
				return -1;
			}
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "no virtio-serial port named %s", AGENT_PORT_NAME);
	return -1;
}
