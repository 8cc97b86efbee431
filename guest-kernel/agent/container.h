/* container.h — the container process: fork, in-guest setup (mount namespace, root,
 * mounts, /dev, masked/readonly paths, hostname, rlimits, user, cwd, PATH lookup), the
 * created->started handshake, and exec. The event loop (main.c) owns its lifetime. */
#ifndef RUNX_CONTAINER_H
#define RUNX_CONTAINER_H

#include <stddef.h>
#include <sys/types.h>

#include "plan.h"
#include "spawn.h"

/* Where the container's root disk is mounted, inside the child's own mount namespace. */
#define ROOT_DEVICE "/dev/vda"
#define ROOT_MOUNT "/mnt/root"
/* Where virtio-9p shares are mounted (also in the child's namespace), so bind mounts
 * can name host directories as SHARE_DIR/<tag>/... */
#define SHARE_DIR "/mnt/share"

struct container {
	pid_t pid;    /* 0 when there is no container */
	struct proc_stdio io; /* stdin closed at the host's EOF, outputs at their EOF */
	int start_fd; /* write end of the start pipe; -1 once started */
	int exited;   /* main process reaped; draining output */
	int status;   /* wait status, valid when exited */
};

void container_init(struct container *c);
/* Forks and sets up the container up to (not including) exec. 0: c->pid waits for
 * container_start. -1: the child was reaped and err holds a one-line reason. */
int container_create(const struct plan *p, struct container *c, char *err, size_t errlen);
/* Lets the child exec. 0, or -1 with errno. */
int container_start(struct container *c);
/* An fd holding the mount namespace of the container process pid, or -1. While it
 * is open, that process's exit does not unmount the container's root and mounts: the
 * exit is reported without waiting for that, and the VM, which its keeper ends
 * right after its container, never unmounts them. */
int container_hold_mounts(pid_t pid);
/* Closes whatever fds are still open and forgets the container. */
void container_reset(struct container *c);

#endif
