/* relay.h — moving container stdio: the stdin buffer the host fills (within its credit,
 * credit.h) and the event loop drains without ever blocking, and pumping stdout/stderr
 * pipes into frames. */
#ifndef RUNX_RELAY_H
#define RUNX_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

/* Largest stdout/stderr frame payload we send: what fits, with its header, in one
 * write(2) to the port (see FRAME_ATOMIC_MAX), well under the protocol's 64 KiB. */
#define RELAY_CHUNK (FRAME_ATOMIC_MAX - PROTO_HEADER_BYTES)

struct relay_buf {
	unsigned char *data;
	size_t off; /* first unsent byte */
	size_t len; /* end of buffered bytes */
	size_t cap;
	int eof;    /* the host sent EOF: close the pipe once the buffer is flushed */
	size_t owed; /* bytes gone from the buffer, not yet granted back (credit.h) */
};

void relay_buf_init(struct relay_buf *b);
size_t relay_buf_pending(const struct relay_buf *b);
/* 0, or -1 (ENOMEM). */
int relay_buf_append(struct relay_buf *b, const void *p, size_t n);
/* Writes as much as the non-blocking fd takes. 0 (maybe partial), or -1 with errno
 * (EPIPE: the reader is gone; the caller drops the buffer). */
int relay_buf_flush(struct relay_buf *b, int fd);
void relay_buf_clear(struct relay_buf *b);

/* One read of up to RELAY_CHUNK bytes from a non-blocking pipe, sent to port as one
 * frame of the given type; with a non-zero exec number, the payload starts with it
 * (4 bytes, big-endian), as exec-stdout/exec-stderr frames do. >0 bytes relayed, 0 at
 * EOF, -1 with errno (EAGAIN: nothing to read now; any other errno from the port
 * write is fatal to the caller). */
ssize_t relay_pump(int from, int port, int frame_type, uint32_t exec, int *port_failed);

#endif
