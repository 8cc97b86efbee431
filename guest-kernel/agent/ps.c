/* ps.c — owns reading the guest's /proc for `ps` (see ps.h). */
#include "ps.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* One process's field, or -1 if it is gone or is a kernel thread (no command line). */
static int describe(long pid, char *out, size_t outlen)
{
	char path[64], stat[512], status[2048], cmd[PS_CMD_MAX + 1];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	ssize_t n = read_file(path, cmd, sizeof cmd);
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	while (n > 0 && cmd[n - 1] == ' ')
		cmd[--n] = '\0';
	/* stat: "pid (comm) S ppid ..."; comm may hold spaces and ')', so parse after the
	 * last ')'. */
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (read_file(path, stat, sizeof stat) <= 0)
		return -1;
	char *rp = strrchr(stat, ')');
	char state = '?';
	long ppid = 0;
	if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
		return -1;
	long uid = -1;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if (read_file(path, status, sizeof status) > 0) {
		char *u = strstr(status, "\nUid:");
		if (u)
			uid = strtol(u + 5, NULL, 10);
	}
	snprintf(out, outlen, "%ld:%ld:%ld:%c:%s", pid, ppid, uid, state, cmd);
	return 0;
}

int ps_reply(int port, const char *id)
{
	static struct ctl_out o;
	ctl_begin(&o, MSG_PROCS);
	ctl_add(&o, KEY_ID, id);
	DIR *d = opendir("/proc");
	struct dirent *e;
	char field[PS_CMD_MAX + 128];
	/* Room a full message must keep for "more=1": one part says more follow. */
	const size_t more_room = sizeof KEY_MORE + 3;
	while (d && (e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		long pid = strtol(e->d_name, NULL, 10);
		/* PID 1 is the agent itself. */
		if (pid <= 1 || describe(pid, field, sizeof field) < 0)
			continue;
		size_t need = sizeof KEY_PROC + 1 + strlen(field) + 1;
		if (o.len + need + more_room > sizeof o.buf) {
			/* This part is full: send it, marked as not the last, and go on in the
			 * next, so no process is left out however many there are. */
			ctl_add(&o, KEY_MORE, "1");
			if (ctl_send(port, &o) < 0) {
				closedir(d);
				return -1;
			}
			ctl_begin(&o, MSG_PROCS);
			ctl_add(&o, KEY_ID, id);
		}
		ctl_add(&o, KEY_PROC, field);
	}
	if (d)
		closedir(d);
	return ctl_send(port, &o);
}
