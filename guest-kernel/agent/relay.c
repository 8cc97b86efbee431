/* relay.c — owns the stdin buffer and the stdout/stderr pump (see relay.h). */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

void relay_buf_init(struct relay_buf *b)
{
	memset(b, 0, sizeof *b);
}

size_t relay_buf_pending(const struct relay_buf *b)
{
	return b->len - b->off;
}

int relay_buf_append(struct relay_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	/* Reuse the consumed front before growing. */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap - b->len < n)
			cap *= 2;
		unsigned char *d = realloc(b->data, cap);
		if (!d) {
			errno = ENOMEM;
			return -1;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int relay_buf_flush(struct relay_buf *b, int fd)
{
	while (b->off < b->len) {
		ssize_t w = write(fd, b->data + b->off, b->len - b->off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		b->off += (size_t)w;
	}
	b->off = b->len = 0;
	return 0;
}

void relay_buf_clear(struct relay_buf *b)
{
	free(b->data);
	relay_buf_init(b);
}

ssize_t relay_pump(int from, int port, int frame_type, uint32_t exec, int *port_failed)
{
	static unsigned char chunk[RELAY_CHUNK];
	size_t pre = 0;
	ssize_t n;
	*port_failed = 0;
	if (exec) {
		chunk[0] = (unsigned char)(exec >> 24);
		chunk[1] = (unsigned char)(exec >> 16);
		chunk[2] = (unsigned char)(exec >> 8);
		chunk[3] = (unsigned char)exec;
		pre = 4;
	}
	do
		n = read(from, chunk + pre, sizeof chunk - pre);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	if (frame_write(port, frame_type, chunk, (size_t)n + pre) < 0) {
		*port_failed = 1;
		return -1;
	}
	return n;
}
