/* dns.c — owns the guest end of the DNS relay (dns.h). A loopback nameserver such as
 * Docker's 127.0.0.11 is reachable only from inside the container's network namespace
 * on the host, where the keeper lives; in the guest the same address is the guest's own
 * loopback. So the agent answers there: each datagram is sent to the host, tagged, and
 * the keeper's reply goes back to the tag's sender. UDP only; a tag names one of a few
 * recent senders, and an answer for a tag reused since is dropped like a late datagram. */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto_gen.h"

#define DNS_SLOTS 64
#define DNS_MAX 4096 /* EDNS answers are at most this large */

static struct {
	uint64_t tag;
	struct sockaddr_in from;
} slots[DNS_SLOTS];
static uint64_t next_tag = 1;

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
	return fd;
}

int dns_take_query(int fd, struct ctl_out *o)
{
	unsigned char q[DNS_MAX];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
	if (n <= 0)
		return -1;
	uint64_t tag = next_tag++;
	slots[tag % DNS_SLOTS].tag = tag;
	slots[tag % DNS_SLOTS].from = from;
	static const char hex[] = "0123456789abcdef";
	char text[2 * DNS_MAX + 1];
	for (ssize_t i = 0; i < n; i++) {
		text[2 * i] = hex[q[i] >> 4];
		text[2 * i + 1] = hex[q[i] & 15];
	}
	text[2 * n] = '\0';
	ctl_begin(o, MSG_DNS);
	ctl_addu(o, KEY_N, tag);
	ctl_add(o, KEY_Q, text);
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
	sendto(fd, r, n, 0, (struct sockaddr *)&slots[tag % DNS_SLOTS].from, sizeof(struct sockaddr_in));
}
