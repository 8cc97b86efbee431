/* caps.h — process.capabilities: the bounding set, then (after the uid change) the
 * effective/permitted/inheritable sets and the ambient set. */
#ifndef RUNX_CAPS_H
#define RUNX_CAPS_H

#include <stdint.h>

/* Drops from the bounding set every capability not in keep, and sets PR_SET_KEEPCAPS so
 * the permitted set survives setuid. Call as root, before the uid change (dropping
 * needs CAP_SETPCAP). 0, or -1 with errno. */
int caps_before_setuid(uint64_t bounding);
/* Sets effective/permitted/inheritable with capset(2), then raises the ambient set.
 * Call after setuid. 0, or -1 with errno and *what naming the failed step. */
int caps_after_setuid(uint64_t effective, uint64_t permitted, uint64_t inheritable,
		      uint64_t ambient, const char **what);

#endif
