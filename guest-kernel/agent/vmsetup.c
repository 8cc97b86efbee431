/* vmsetup.c — owns the VM-wide part of `create` (vmsetup.h): what a container started
 * from a snapshot template must not inherit from it. The wall clock is set from the
 * host's (the template's clock stopped when it was saved), the CRNG is given fresh
 * seed material and reseeded (two containers from one template must not share random
 * state), the root disk's new size is awaited (block_resize raises a config-change
 * interrupt the guest handles asynchronously), and the network is configured. What
 * needs nothing from the host is done once at boot instead (vm_boot_setup). */
#include "vmsetup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "cgroup.h"
#include "net.h"

#define DISK_WAIT_MS 3000
#define DISK_POLL_MS 2

/* <linux/random.h>, which musl's toolchain does not ship: the kernel ABI is stable. */
struct rand_pool_info {
	int entropy_count;
	int buf_size;
	unsigned char buf[];
};
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG _IO('R', 0x07)

static int set_clock(const char *ms, char *err, size_t errlen)
{
	uint64_t v;
	if (parse_u64(ms, &v) < 0) {
		snprintf(err, errlen, "bad %s \"%s\"", KEY_TIME, ms);
		return -1;
	}
	struct timespec ts = { .tv_sec = (time_t)(v / 1000), .tv_nsec = (long)(v % 1000) * 1000000L };
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		snprintf(err, errlen, "set clock: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int reseed(const char *hex, char *err, size_t errlen)
{
	struct {
		struct rand_pool_info info;
		unsigned char bytes[64];
	} pool;
	_Static_assert(sizeof(struct rand_pool_info) == 8, "rand_pool_info is two ints");
	size_t n = strlen(hex) / 2;
	if (n == 0 || n > sizeof pool.bytes) {
		snprintf(err, errlen, "bad %s length", KEY_SEED);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "bad %s", KEY_SEED);
			return -1;
		}
		pool.bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	pool.info.entropy_count = (int)(n * 8);
	pool.info.buf_size = (int)n;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open /dev/urandom: %s", strerror(errno));
		return -1;
	}
	/* RNDADDENTROPY mixes the host's bytes in and credits them; RNDRESEEDCRNG makes
	 * the CRNG take them now instead of at its next scheduled reseed. Both need
	 * CAP_SYS_ADMIN, which PID 1 has. */
	int r = ioctl(fd, RNDADDENTROPY, &pool);
	if (r == 0)
		r = ioctl(fd, RNDRESEEDCRNG);
	int saved = errno;
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "reseed CRNG: %s", strerror(saved));
		return -1;
	}
	return 0;
}

static int wait_disk(const char *bytes, char *err, size_t errlen)
{
	uint64_t want;
	if (parse_u64(bytes, &want) < 0) {
		snprintf(err, errlen, "bad %s \"%s\"", KEY_DISK_BYTES, bytes);
		return -1;
	}
	/* The host resizes before the VM runs, so the size is usually there at once;
	 * otherwise it comes a few ms after the interrupt: poll finely. */
	for (int waited = 0;; waited += DISK_POLL_MS) {
		FILE *f = fopen("/sys/block/vda/size", "re");
		unsigned long long sectors = 0;
		if (f) {
			if (fscanf(f, "%llu", &sectors) != 1)
				sectors = 0;
			fclose(f);
		}
		if (sectors * 512ULL >= want)
			return 0;
		if (waited >= DISK_WAIT_MS) {
			snprintf(err, errlen, "root disk still shows %llu bytes, not %llu", sectors * 512ULL,
				 (unsigned long long)want);
			return -1;
		}
		usleep(DISK_POLL_MS * 1000);
	}
}

void vm_boot_setup(void)
{
	/* Before hello, so a template's VM is saved with this done and a VM started from
	 * it skips it at create: under TCG each first run of a kernel path costs, and
	 * these cost ~40 ms there. A cold boot only does it earlier. */
	char err[256];
	if (net_loopback_up(err, sizeof err) < 0 || cgroup_prepare(err, sizeof err) < 0)
		logmsg("boot setup: %s (create will try again)", err);
}

int vm_setup(const struct ctl_msg *m, char *err, size_t errlen)
{
	const char *v;
	if ((v = ctl_get(m, KEY_TIME)) && set_clock(v, err, errlen) < 0)
		return -1;
	if ((v = ctl_get(m, KEY_SEED)) && reseed(v, err, errlen) < 0)
		return -1;
	if ((v = ctl_get(m, KEY_DISK_BYTES)) && wait_disk(v, err, errlen) < 0)
		return -1;
	struct net_plan n;
	memset(&n, 0, sizeof n);
	const char *mac = ctl_get(m, KEY_NET_MAC), *addr = ctl_get(m, KEY_NET_ADDR), *gw = ctl_get(m, KEY_NET_GW),
		   *mtu = ctl_get(m, KEY_NET_MTU);
	const char *gw6 = ctl_get(m, KEY_NET_GW6);
	for (size_t i = 0; i < m->nfields && n.naddr6 < NET_ADDR6_MAX; i++)
		if (strcmp(m->fields[i].key, KEY_NET_ADDR6) == 0)
			snprintf(n.addr6[n.naddr6++], sizeof n.addr6[0], "%s", m->fields[i].val);
	if (gw6)
		snprintf(n.gw6, sizeof n.gw6, "%s", gw6);
	n.present = mac || addr || gw || mtu || n.naddr6 || gw6;
	if (mac)
		snprintf(n.mac, sizeof n.mac, "%s", mac);
	if (addr)
		snprintf(n.addr, sizeof n.addr, "%s", addr);
	if (gw)
		snprintf(n.gw, sizeof n.gw, "%s", gw);
	if (mtu)
		n.mtu = atoi(mtu);
	return net_configure(&n, err, errlen);
}
