/* boot.h — PID 1 duties outside the protocol: console, the guest's own /dev /proc /sys,
 * finding the agent's virtio-serial port, logging, and ending the VM. */
#ifndef RUNX_BOOT_H
#define RUNX_BOOT_H

#include <stddef.h>

/* The name QEMU gives the port: -device virtserialport,name=runx.agent */
#define AGENT_PORT_NAME "runx.agent"

/* Mounts devtmpfs/proc/sysfs and makes /dev/console fds 0, 1 and 2. 0 or -1. */
int boot_init(void);
/* Waits (bounded) for the agent port to appear and opens it O_RDWR|O_CLOEXEC.
 * fd, or -1 with a reason in err. */
int boot_open_port(char *err, size_t errlen);

/* One diagnostic line on the console (ttyS0). */
__attribute__((format(printf, 1, 2))) void logmsg(const char *fmt, ...);
/* sync and reboot: with reboot=t on the kernel command line and QEMU -no-reboot, this
 * ends QEMU. Never returns. */
__attribute__((noreturn)) void vm_shutdown(void);
/* Logs and shuts down. */
__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);

#endif
