/* frame.c — owns framing and control-message encode/decode (see frame.h). */
#include "frame.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FRAME_MAX (PROTO_HEADER_BYTES + PROTO_MAX_PAYLOAD)

int frame_reader_init(struct frame_reader *r)
{
	r->buf = malloc(FRAME_MAX);
	r->len = r->pos = 0;
	return r->buf ? 0 : -1;
}

void frame_reader_reset(struct frame_reader *r)
{
	r->len = r->pos = 0;
}

ssize_t frame_reader_fill(struct frame_reader *r, int fd)
{
	/* Compact first: payloads handed out before this call are no longer referenced. */
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	/* Cannot be full: frame_reader_next hands out any complete frame, and one frame
	 * never exceeds FRAME_MAX, so a full buffer would hold a complete frame. */
	ssize_t n;
	do
		n = read(fd, r->buf + r->len, FRAME_MAX - r->len);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		r->len += (size_t)n;
	return n;
}

int frame_reader_next(struct frame_reader *r, struct frame *f, const char **err)
{
	size_t avail = r->len - r->pos;
	const unsigned char *h = r->buf + r->pos;

	/* Check what we have of the header as early as possible, so garbage is dropped
	 * at once instead of waiting for a length that will never arrive. */
	if ((avail >= 1 && h[0] != PROTO_MAGIC_0) || (avail >= 2 && h[1] != PROTO_MAGIC_1)) {
		*err = "bad magic";
		goto bad;
	}
	if (avail >= 3 && h[2] != PROTO_VERSION) {
		*err = "unsupported protocol version";
		goto bad;
	}
	if (avail >= 4 && !FRAME_TYPE_VALID(h[3])) {
		*err = "unknown frame type";
		goto bad;
	}
	if (avail < PROTO_HEADER_BYTES)
		return 0;
	uint32_t len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (len > PROTO_MAX_PAYLOAD) {
		*err = "payload length over the limit";
		goto bad;
	}
	if (avail - PROTO_HEADER_BYTES < len)
		return 0;
	f->type = h[3];
	f->payload = r->buf + r->pos + PROTO_HEADER_BYTES;
	f->len = len;
	r->pos += PROTO_HEADER_BYTES + len;
	return 1;
bad:
	frame_reader_reset(r);
	return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		/* virtio ports accept at most 32 KiB per write(2), so partial writes are the
		 * normal case, not an error. */
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int frame_write(int fd, int type, const void *payload, size_t len)
{
	/* A frame of at most FRAME_ATOMIC_MAX bytes goes out in one write(2), which the
	 * virtio console driver turns into one buffer: if the host end drops while we are
	 * blocked, the frame goes out whole after the reconnect, never a torn tail. */
	static unsigned char one[FRAME_ATOMIC_MAX];
	if (len > PROTO_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	unsigned char h[PROTO_HEADER_BYTES] = {
		PROTO_MAGIC_0, PROTO_MAGIC_1, PROTO_VERSION, (unsigned char)type,
		(unsigned char)(len >> 24), (unsigned char)(len >> 16),
		(unsigned char)(len >> 8), (unsigned char)len,
	};
	if (sizeof h + len <= sizeof one) {
		memcpy(one, h, sizeof h);
		memcpy(one + sizeof h, payload, len);
		return write_all(fd, one, sizeof h + len);
	}
	if (write_all(fd, h, sizeof h) < 0)
		return -1;
	return write_all(fd, payload, len);
}

int ctl_decode(unsigned char *payload, uint32_t len, struct ctl_msg *m, const char **err)
{
	memset(m, 0, sizeof *m);
	if (len == 0 || payload[len - 1] != '\0') {
		*err = "control payload is not NUL-terminated";
		return -1;
	}
	size_t nstr = 0;
	for (uint32_t i = 0; i < len; i++)
		nstr += payload[i] == '\0';
	m->name = (const char *)payload;
	if (m->name[0] == '\0') {
		*err = "empty message name";
		return -1;
	}
	m->fields = calloc(nstr, sizeof *m->fields);
	if (!m->fields) {
		*err = "out of memory";
		return -1;
	}
	char *s = (char *)payload + strlen(m->name) + 1;
	char *end = (char *)payload + len;
	while (s < end) {
		size_t sl = strlen(s);
		char *eq = strchr(s, '=');
		if (!eq) {
			*err = "field without '='";
			ctl_msg_free(m);
			return -1;
		}
		*eq = '\0';
		m->fields[m->nfields].key = s;
		m->fields[m->nfields].val = eq + 1;
		m->nfields++;
		s += sl + 1;
	}
	return 0;
}

void ctl_msg_free(struct ctl_msg *m)
{
	free(m->fields);
	m->fields = NULL;
	m->nfields = 0;
}

const char *ctl_get(const struct ctl_msg *m, const char *key)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].key, key) == 0)
			return m->fields[i].val;
	return NULL;
}

int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Appends s (up to n bytes) and keeps room for the terminating NUL of the string. */
static void out_put(struct ctl_out *o, const char *s, size_t n)
{
	size_t room = sizeof o->buf - o->len - 1;
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++) {
		/* A value is one line, and NUL would end the string early. */
		char c = s[i];
		o->buf[o->len++] = (c == '\n' || c == '\r') ? ' ' : c;
	}
}

void ctl_begin(struct ctl_out *o, const char *name)
{
	o->len = 0;
	out_put(o, name, strlen(name));
	o->buf[o->len++] = '\0';
}

void ctl_add(struct ctl_out *o, const char *key, const char *val)
{
	/* Keep whole fields: a key with no room for its value would change meaning. */
	if (o->len + strlen(key) + 3 > sizeof o->buf)
		return;
	out_put(o, key, strlen(key));
	out_put(o, "=", 1);
	out_put(o, val, strlen(val));
	o->buf[o->len++] = '\0';
}

void ctl_addu(struct ctl_out *o, const char *key, uint64_t val)
{
	char num[24];
	snprintf(num, sizeof num, "%" PRIu64, val);
	ctl_add(o, key, num);
}

int ctl_send(int fd, const struct ctl_out *o)
{
	return frame_write(fd, FRAME_CONTROL, o->buf, o->len);
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}
