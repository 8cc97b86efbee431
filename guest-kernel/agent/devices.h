/* devices.h — linux.devices: device nodes made in the container's /dev. */
#ifndef RUNX_DEVICES_H
#define RUNX_DEVICES_H

#include "plan.h"

/* Makes d under root (the container's root as the agent sees it). 0, or -1 with errno
 * and *what naming the failed step. */
int device_create(const char *root, const struct plan_device *d, const char **what);

#endif
