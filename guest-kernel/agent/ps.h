/* ps.h — the guest's process table for `runx ps`: every process in the VM but the
 * agent and kernel threads, which is exactly the container's processes. */
#ifndef RUNX_PS_H
#define RUNX_PS_H

#include "frame.h"

/* Sends the `procs` reply to request id on port: one `proc` field per process,
 * "PID:PPID:UID:STATE:CMDLINE" (CMDLINE last, arguments joined by spaces, cut at
 * PS_CMD_MAX). A table too big for one message goes as several `procs` messages with
 * the same id, each but the last with more=1. 0, or -1 with errno from the port. */
int ps_reply(int port, const char *id);

#define PS_CMD_MAX 256

#endif
