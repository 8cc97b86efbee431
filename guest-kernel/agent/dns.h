/* dns.h — the guest end of the DNS relay: queries the container sends to a loopback
 * nameserver that exists only in its network namespace on the host (Docker's embedded
 * DNS at 127.0.0.11) go to the host as `dns` messages; `dns-answer` brings replies. */
#ifndef RUNX_AGENT_DNS_H
#define RUNX_AGENT_DNS_H

#include <poll.h>
#include <stddef.h>

#include "frame.h"

/* Listens on UDP ADDR:53 in the guest. Returns the socket, or -1 with err set. */
int dns_open(const char *addr, char *err, size_t errlen);
/* Reads one query from fd into o (a `dns` message); returns 0, or -1 if there was none. */
int dns_take_query(int fd, struct ctl_out *o);
/* TCP on the same address (opened by dns_open): adds its fds to pfd (at most room);
 * returns how many. */
int dns_watch(struct pollfd *pfd, int room);
/* Serves those of pfd[0..n) that are ready: accepts, reads, and hands each whole
 * query to send as a `dns` message. */
void dns_serve_tcp(const struct pollfd *pfd, int n, void (*send)(void *ctx, const struct ctl_out *o), void *ctx);
/* Sends the answer of a `dns-answer` message back to the query's sender (UDP or TCP). */
void dns_give_answer(int fd, const struct ctl_msg *m);

#endif
