/* frame.h — the wire format of docs/protocol/agent.md: frame headers, the reader that
 * reassembles frames from arbitrarily split/merged reads, blocking frame writes, and
 * control-message encode/decode. All names and limits come from proto_gen.h. */
#ifndef RUNX_FRAME_H
#define RUNX_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto_gen.h"

/* Reassembly buffer sized for the largest legal frame, so a valid frame always fits. */
struct frame_reader {
	unsigned char *buf;
	size_t len; /* bytes held */
	size_t pos; /* bytes already handed out as frames */
};

struct frame {
	int type;
	unsigned char *payload; /* points into the reader; valid until the next fill */
	uint32_t len;
};

int frame_reader_init(struct frame_reader *r);
void frame_reader_reset(struct frame_reader *r);
/* One read(2) from fd into the buffer: >0 bytes read, 0 at EOF, -1 with errno. */
ssize_t frame_reader_fill(struct frame_reader *r, int fd);
/* 1: *f is the next complete frame; 0: need more bytes; -1: bad header, the buffer was
 * dropped to resync and *err says why. */
int frame_reader_next(struct frame_reader *r, struct frame *f, const char **err);

/* The virtio console driver takes at most 32 KiB per write(2) (port_fops_write). */
#define FRAME_ATOMIC_MAX (32 * 1024)

/* Writes one whole frame, blocking (a full port is backpressure). 0 or -1 with errno. */
int frame_write(int fd, int type, const void *payload, size_t len);

/* A decoded control message. Keys and values point into the frame payload, which
 * decoding rewrites in place ('=' becomes NUL). */
struct ctl_field {
	const char *key;
	const char *val;
};
struct ctl_msg {
	const char *name;
	size_t nfields;
	struct ctl_field *fields; /* malloc'd; free with ctl_msg_free */
};

int ctl_decode(unsigned char *payload, uint32_t len, struct ctl_msg *m, const char **err);
void ctl_msg_free(struct ctl_msg *m);
/* First value of key, or NULL. */
const char *ctl_get(const struct ctl_msg *m, const char *key);
/* Decimal unsigned 64-bit; -1 if s is not a plain decimal number in range. */
int parse_u64(const char *s, uint64_t *out);
/* The value of a lower-case hex digit, or -1 (field values are lower-case hex). */
int hex_digit(char c);

/* Outgoing control message, built in a fixed buffer: our messages are small, and an
 * over-long value (an error text) is truncated rather than failing the reply. */
#define CTL_OUT_MAX 16384
struct ctl_out {
	char buf[CTL_OUT_MAX];
	size_t len;
};
void ctl_begin(struct ctl_out *o, const char *name);
void ctl_add(struct ctl_out *o, const char *key, const char *val);
void ctl_addu(struct ctl_out *o, const char *key, uint64_t val);
int ctl_send(int fd, const struct ctl_out *o);

#endif
