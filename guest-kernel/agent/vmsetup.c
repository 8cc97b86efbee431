/* vmsetup.c — owns the VM-wide part of `create` (vmsetup.h): what a container started
 * from a snapshot template must not inherit from it. The wall clock is set from the
 * host's (the template's clock stopped when it was saved), the CRNG is given fresh
 * seed material and reseeded (two containers from one template must not share random
 * state), the root disk's new size is awaited (block_resize raises a config-change
 * interrupt the guest handles asynchronously), and the network is configured. Every
 * field is checked (vm_parse) before any is applied (vm_apply), so a refused `create`
 * leaves the VM as it was. What needs nothing from the host is done once at boot
 * instead (vm_boot_setup). */
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

static int parse_seed(const char *hex, struct vm_plan *v, char *err, size_t errlen)
{
	size_t n = strlen(hex) / 2;
	if (n == 0 || n > sizeof v->seed || strlen(hex) % 2) {
		snprintf(err, errlen, "bad %s length", KEY_SEED);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "bad %s", KEY_SEED);
			return -1;
		}
		v->seed[i] = (unsigned char)(hi << 4 | lo);
	}
	v->seed_len = n;
	return 0;
}

static int reseed(const struct vm_plan *v, char *err, size_t errlen)
{
	struct {
		struct rand_pool_info info;
		unsigned char bytes[sizeof v->seed];
	} pool;
	_Static_assert(sizeof(struct rand_pool_info) == 8, "rand_pool_info is two ints");
	memcpy(pool.bytes, v->seed, v->seed_len);
	pool.info.entropy_count = (int)(v->seed_len * 8);
	pool.info.buf_size = (int)v->seed_len;
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

static int wait_disk(uint64_t want, char *err, size_t errlen)
{
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

/* A string field copied into a fixed buffer; -1 if it does not fit. */
static int copy_field(char *dst, size_t len, const char *key, const char *val, char *err, size_t errlen)
{
	if (strlen(val) >= len) {
		snprintf(err, errlen, "bad %s", key);
		return -1;
	}
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

int vm_parse(const struct ctl_msg *m, struct vm_plan *v, char *err, size_t errlen)
{
	const char *s;
	uint64_t u;
	memset(v, 0, sizeof *v);
	if ((s = ctl_get(m, KEY_TIME))) {
		if (parse_u64(s, &u) < 0 || u / 1000 > (uint64_t)INT64_MAX / 2) {
			snprintf(err, errlen, "bad %s \"%s\"", KEY_TIME, s);
			return -1;
		}
		v->has_time = 1;
		v->time = (struct timespec){ .tv_sec = (time_t)(u / 1000), .tv_nsec = (long)(u % 1000) * 1000000L };
	}
	if ((s = ctl_get(m, KEY_SEED)) && parse_seed(s, v, err, errlen) < 0)
		return -1;
	if ((s = ctl_get(m, KEY_DISK_BYTES))) {
		if (parse_u64(s, &v->disk_bytes) < 0) {
			snprintf(err, errlen, "bad %s \"%s\"", KEY_DISK_BYTES, s);
			return -1;
		}
		v->has_disk = 1;
	}
	struct net_plan *n = &v->net;
	const char *mac = ctl_get(m, KEY_NET_MAC), *addr = ctl_get(m, KEY_NET_ADDR), *gw = ctl_get(m, KEY_NET_GW),
		   *mtu = ctl_get(m, KEY_NET_MTU);
	n->present = mac || addr || gw || mtu;
	if ((mac && copy_field(n->mac, sizeof n->mac, KEY_NET_MAC, mac, err, errlen) < 0) ||
	    (addr && copy_field(n->addr, sizeof n->addr, KEY_NET_ADDR, addr, err, errlen) < 0) ||
	    (gw && copy_field(n->gw, sizeof n->gw, KEY_NET_GW, gw, err, errlen) < 0))
		return -1;
	if (mtu) {
		if (parse_u64(mtu, &u) < 0 || u == 0 || u > 65535) {
			snprintf(err, errlen, "bad %s \"%s\"", KEY_NET_MTU, mtu);
			return -1;
		}
		n->mtu = (int)u;
	}
	return net_plan_check(n, err, errlen);
}

int vm_apply(const struct vm_plan *v, char *err, size_t errlen)
{
	if (v->has_time && clock_settime(CLOCK_REALTIME, &v->time) < 0) {
		snprintf(err, errlen, "set clock: %s", strerror(errno));
		return -1;
	}
	if (v->seed_len && reseed(v, err, errlen) < 0)
		return -1;
	if (v->has_disk && wait_disk(v->disk_bytes, err, errlen) < 0)
		return -1;
	return net_configure(&v->net, err, errlen);
}
