/* net.h — the guest's network setup from the `create` message's net.* fields. */
#ifndef RUNX_AGENT_NET_H
#define RUNX_AGENT_NET_H

#include <stddef.h>

struct net_plan {
	int present;   /* the host gave the VM a NIC (any net.* field was sent) */
	char mac[32];  /* aa:bb:cc:dd:ee:ff, or empty: keep the NIC's */
	char addr[64]; /* IPv4 address/prefix, or empty */
	char gw[64];   /* default gateway, or empty */
	int mtu;       /* 0: leave as is */
};

/* Checks what net_configure would refuse in n (MAC, address/prefix, gateway), so that
 * `create` can refuse a request before it changes anything. 0, or -1 with err set. */
int net_plan_check(const struct net_plan *n, char *err, size_t errlen);
/* Brings lo up (if it is not already). Returns 0, or -1 with err set. */
int net_loopback_up(char *err, size_t errlen);
/* Brings lo up and, when present, configures eth0. Returns 0, or -1 with err set. */
int net_configure(const struct net_plan *n, char *err, size_t errlen);

#endif
