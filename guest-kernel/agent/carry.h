/* carry.h — carried mounts: a container's bind mounts copied onto the carry disk, an
 * ext4 virtio-blk image the host fills from their sources at create, so they move with
 * the VM (checkpoint, migration) as its root disk does. The host's copy is brought up
 * to date through the container's virtio-9p share, which the agent mounts only while
 * it copies: a mounted share blocks QEMU's migration, an unmounted one does not. */
#ifndef RUNX_CARRY_H
#define RUNX_CARRY_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* Where the carry disk is mounted in the agent's namespace (the container's is a copy
 * of it, made after): slot i of the disk is CARRY_DIR/<i>. */
#define CARRY_DIR "/mnt/carry"
#define CARRY_MAX_SLOTS 1024

/* The create fields carry.* (docs/protocol/agent.md), checked; nothing is done yet.
 * 0 with nothing to do when the create has none. -1 with a one-line reason. */
int carry_parse(const struct ctl_msg *m, char *err, size_t errlen);
/* Mounts the disk the create named at CARRY_DIR (once per VM). 0, or -1 with a reason. */
int carry_mount(char *err, size_t errlen);
/* Copies the given slots from the share to the disk (to_host 0: the host's newer files
 * reach the container; the message's `dir` fields, if any, name the only directories
 * that changed) or from the disk to the share (to_host 1: the container's writes
 * reach the host). The share is mounted for the copy only. 0, or -1. */
int carry_sync(int to_host, const uint64_t *slots, size_t n, const struct ctl_msg *hints, char *err, size_t errlen);
/* Writes back the slots the create marked read-write (carry.back): at the container's
 * end, before `exit` is sent. 0 with nothing carried; -1 with a reason. */
int carry_write_back(char *err, size_t errlen);

#endif
