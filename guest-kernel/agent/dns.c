/* dns.c — owns the guest end of the DNS relay (dns.h). A loopback nameserver such as
 * Docker's 127.0.0.11 is reachable only from inside the container's network namespace
 * on the host, where the keeper lives; in the guest the same address is the guest's own
 * loopback. So the agent answers there: each datagram is sent to the host, tagged, and
 * the keeper's reply goes back to the tag's sender. UDP, and TCP on the same address
 * (RFC 7766: a 2-byte length before each message, several queries per connection),
 * which a client uses after a truncated answer. A tag names one of a few recent
 * senders (an address, or a TCP connection of a given generation), and an answer for
 * a tag reused since, or for a connection closed since, is dropped like a late
 * datagram. The host side is the same for both: the keeper asks over UDP, then TCP
 * when truncated (src/xcontainer/devices/net/dns-relay.ts). */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto_gen.h"

#define DNS_SLOTS 64
#define DNS_MAX 4096 /* EDNS answers are at most this large */
#define DNS_TCP_MAX 8 /* connections at once; more wait in the listen backlog */

static struct {
	uint64_t tag;
	struct sockaddr_in from;
	int conn; /* a TCP connection's index, or -1 for a UDP sender */
	uint64_t gen;
} slots[DNS_SLOTS];
static uint64_t next_tag = 1;

static int tcp_lfd = -1;
static struct {
	int fd; /* -1 when free (set so by tcp_open) */
	uint64_t gen;
	size_t have;
	unsigned char buf[2 + DNS_MAX];
} conns[DNS_TCP_MAX];
static uint64_t next_gen = 1;

/* TCP on the same address; without it UDP still works, so a failure is only logged. */
static void tcp_open(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, (const struct sockaddr *)sin, sizeof *sin) < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "runx-agent: dns: no TCP listener: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	for (int i = 0; i < DNS_TCP_MAX; i++)
		conns[i].fd = -1;
	tcp_lfd = fd;
}

int dns_open(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		snprintf(err, errlen, "dns: bad address %s", addr);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		snprintf(err, errlen, "dns: listen on %s:53: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	tcp_open(&sin);
	return fd;
}

/* The `dns` message for query q of n bytes, tagged; the tag's slot says where the answer goes. */
static void make_query(struct ctl_out *o, const unsigned char *q, size_t n, const struct sockaddr_in *from, int conn)
{
	uint64_t tag = next_tag++;
	slots[tag % DNS_SLOTS].tag = tag;
	if (from)
		slots[tag % DNS_SLOTS].from = *from;
	slots[tag % DNS_SLOTS].conn = conn;
	slots[tag % DNS_SLOTS].gen = conn >= 0 ? conns[conn].gen : 0;
	static const char hex[] = "0123456789abcdef";
	static char text[2 * DNS_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		text[2 * i] = hex[q[i] >> 4];
		text[2 * i + 1] = hex[q[i] & 15];
	}
	text[2 * n] = '\0';
	ctl_begin(o, MSG_DNS);
	ctl_addu(o, KEY_N, tag);
	ctl_add(o, KEY_Q, text);
}

static void conn_close(int i)
{
	close(conns[i].fd);
	conns[i].fd = -1;
	conns[i].have = 0;
}

int dns_watch(struct pollfd *pfd, int room)
{
	int n = 0;
	if (tcp_lfd < 0)
		return 0;
	int free_slot = 0;
	for (int i = 0; i < DNS_TCP_MAX; i++)
		free_slot |= conns[i].fd < 0;
	if (free_slot && n < room)
		pfd[n++] = (struct pollfd){ tcp_lfd, POLLIN, 0 };
	for (int i = 0; i < DNS_TCP_MAX && n < room; i++)
		if (conns[i].fd >= 0)
			pfd[n++] = (struct pollfd){ conns[i].fd, POLLIN, 0 };
	return n;
}

void dns_serve_tcp(const struct pollfd *pfd, int n, void (*send)(void *ctx, const struct ctl_out *o), void *ctx)
{
	static struct ctl_out o;
	for (int k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == tcp_lfd) {
			for (int i = 0; i < DNS_TCP_MAX; i++) {
				if (conns[i].fd >= 0)
					continue;
				int c = accept4(tcp_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (c < 0)
					break;
				conns[i].fd = c;
				conns[i].gen = next_gen++;
				conns[i].have = 0;
			}
			continue;
		}
		int i = 0;
		while (i < DNS_TCP_MAX && conns[i].fd != pfd[k].fd)
			i++;
		if (i == DNS_TCP_MAX)
			continue;
		size_t want = conns[i].have < 2 ? 2 : 2 + ((size_t)conns[i].buf[0] << 8 | conns[i].buf[1]);
		if (want > sizeof conns[i].buf) {
			conn_close(i); /* a query larger than any we relay */
			continue;
		}
		ssize_t r = read(conns[i].fd, conns[i].buf + conns[i].have, want - conns[i].have);
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(i);
			continue;
		}
		conns[i].have += (size_t)r;
		size_t len = conns[i].have >= 2 ? ((size_t)conns[i].buf[0] << 8 | conns[i].buf[1]) : 0;
		if (conns[i].have >= 2 && conns[i].have == 2 + len && len > 0) {
			make_query(&o, conns[i].buf + 2, len, NULL, i);
			conns[i].have = 0;
			send(ctx, &o);
		}
	}
}

int dns_take_query(int fd, struct ctl_out *o)
{
	unsigned char q[DNS_MAX];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
	if (n <= 0)
		return -1;
	make_query(o, q, (size_t)n, &from, -1);
	return 0;
}

void dns_give_answer(int fd, const struct ctl_msg *m)
{
	uint64_t tag;
	const char *a = ctl_get(m, KEY_A);
	if (fd < 0 || !a || parse_u64(ctl_get(m, KEY_N), &tag) < 0 || slots[tag % DNS_SLOTS].tag != tag)
		return;
	unsigned char r[DNS_MAX];
	size_t n = strlen(a) / 2;
	if (n > sizeof r)
		return;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(a[2 * i]), lo = hex_digit(a[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return;
		r[i] = (unsigned char)(hi << 4 | lo);
	}
	slots[tag % DNS_SLOTS].tag = 0;
	int c = slots[tag % DNS_SLOTS].conn;
	if (c < 0) {
		sendto(fd, r, n, 0, (struct sockaddr *)&slots[tag % DNS_SLOTS].from, sizeof(struct sockaddr_in));
		return;
	}
	if (conns[c].fd < 0 || conns[c].gen != slots[tag % DNS_SLOTS].gen)
		return; /* the client has gone */
	unsigned char out[2 + DNS_MAX];
	out[0] = (unsigned char)(n >> 8);
	out[1] = (unsigned char)n;
	memcpy(out + 2, r, n);
	/* At most 4 KiB to a local client's socket buffer: it fits at once, or the client is
	 * not reading and loses the connection. */
	if (write(conns[c].fd, out, n + 2) != (ssize_t)(n + 2))
		conn_close(c);
}
