/* net.c — owns the guest's network configuration (net.h): loopback up, and eth0 given
 * the MAC, address, MTU and default route of the container's network namespace on the
 * host, whose identity the VM's NIC takes over. The host reads them from the
 * namespace; see src/xcontainer/devices/net/config.ts. The MAC matters for a VM
 * started from a template, whose NIC still has the template's: virtio-net hands a new
 * one to QEMU (VIRTIO_NET_CTRL_MAC_ADDR_SET), which filters and announces with it. */
#include "net.h"
#include "frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define GUEST_NIC "eth0"

static int set_up(int s, const char *ifname)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static void set_sin(struct sockaddr *sa, in_addr_t addr)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr;
	memcpy(sa, &sin, sizeof sin);
}

/* "aa:bb:cc:dd:ee:ff" into 6 bytes; -1 if it is not one. */
static int parse_mac(const char *text, unsigned char out[6])
{
	unsigned int b[6];
	char end;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		out[i] = (unsigned char)b[i];
	return 0;
}

/* "A.B.C.D[/P]" into an address and prefix (32 without one); -1 if it is not one. */
static int parse_addr(const char *text, in_addr_t *addr, int *prefix)
{
	char ip[64];
	snprintf(ip, sizeof ip, "%s", text);
	char *slash = strchr(ip, '/');
	*prefix = 32;
	if (slash) {
		uint64_t p;
		*slash = '\0';
		if (parse_u64(slash + 1, &p) < 0 || p > 32)
			return -1;
		*prefix = (int)p;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	*addr = a.s_addr;
	return 0;
}

int net_plan_check(const struct net_plan *n, char *err, size_t errlen)
{
	unsigned char mac[6];
	in_addr_t a;
	int prefix;
	if (n->mac[0] && parse_mac(n->mac, mac) < 0) {
		snprintf(err, errlen, "network: bad MAC address %s", n->mac);
		return -1;
	}
	if (n->addr[0] && parse_addr(n->addr, &a, &prefix) < 0) {
		snprintf(err, errlen, "network: bad address %s", n->addr);
		return -1;
	}
	if (n->gw[0] && (parse_addr(n->gw, &a, &prefix) < 0 || strchr(n->gw, '/'))) {
		snprintf(err, errlen, "network: bad gateway %s", n->gw);
		return -1;
	}
	return 0;
}

static int fail(int s, char *err, size_t errlen, const char *what)
{
	int saved = errno;
	snprintf(err, errlen, "network: %s: %s", what, strerror(saved));
	close(s);
	errno = saved;
	return -1;
}

/* lo is up (net_loopback_up succeeded). Only a container could take it down again,
 * and a container process forked after that brings it up itself (ns_loopback_up). */
static int lo_is_up;

int net_loopback_up(char *err, size_t errlen)
{
	if (lo_is_up)
		return 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "network: socket: %s", strerror(errno));
		return -1;
	}
	if (set_up(s, "lo") < 0)
		return fail(s, err, errlen, "bring lo up");
	close(s);
	lo_is_up = 1;
	return 0;
}

int net_configure(const struct net_plan *n, char *err, size_t errlen)
{
	/* Usually done at boot already (vm_boot_setup): then this costs nothing, where
	 * the socket and ioctls below cost ~4 ms of a create under TCG. */
	if (net_loopback_up(err, errlen) < 0)
		return -1;
	if (!n->present)
		return 0;
	/* An AF_INET datagram socket is only a handle for the interface ioctls. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "network: socket: %s", strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", GUEST_NIC);
	if (n->mac[0]) {
		unsigned char mac[6];
		if (parse_mac(n->mac, mac) < 0) {
			errno = EINVAL;
			return fail(s, err, errlen, "bad MAC address");
		}
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, mac, sizeof mac);
		if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
			return fail(s, err, errlen, "set " GUEST_NIC " MAC address");
	}
	if (n->mtu > 0) {
		ifr.ifr_mtu = n->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			return fail(s, err, errlen, "set " GUEST_NIC " mtu");
	}
	if (n->addr[0]) {
		in_addr_t a;
		int prefix;
		if (parse_addr(n->addr, &a, &prefix) < 0) {
			errno = EINVAL;
			return fail(s, err, errlen, "bad address");
		}
		set_sin(&ifr.ifr_addr, a);
		if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
			return fail(s, err, errlen, "set " GUEST_NIC " address");
		in_addr_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
		set_sin(&ifr.ifr_netmask, mask);
		if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
			return fail(s, err, errlen, "set " GUEST_NIC " netmask");
	}
	if (set_up(s, GUEST_NIC) < 0)
		return fail(s, err, errlen, "bring " GUEST_NIC " up");
	if (n->gw[0]) {
		struct rtentry rt;
		memset(&rt, 0, sizeof rt);
		set_sin(&rt.rt_dst, INADDR_ANY);
		set_sin(&rt.rt_genmask, INADDR_ANY);
		in_addr_t gw;
		int prefix;
		if (parse_addr(n->gw, &gw, &prefix) < 0) {
			errno = EINVAL;
			return fail(s, err, errlen, "bad gateway");
		}
		set_sin(&rt.rt_gateway, gw);
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = (char *)GUEST_NIC;
		if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
			return fail(s, err, errlen, "add default route");
	}
	close(s);
	return 0;
}
