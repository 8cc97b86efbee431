/* ps.h — the guest's process table for `runx ps`: every process in the VM but the
 * agent and kernel threads, which is exactly the container's processes. */
#ifndef RUNX_PS_H
#define RUNX_PS_H

#include "frame.h"

/* Adds one `proc` field per process to o: "PID:PPID:UID:STATE:CMDLINE" (CMDLINE last,
 * arguments joined by spaces, cut at PS_CMD_MAX). Stops, adding `more=1`, when the
 * message is full. */
void ps_list(struct ctl_out *o);

#define PS_CMD_MAX 256

#endif
