/* fsync-writer PATH N: appends N numbered 4 KiB records to PATH, fsync(2) after each,
 * as a database's write-ahead log does; prints "records N secs S rps R" (guest clock). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: fsync-writer PATH N\n"); return 2; }
	long n = atol(argv[2]);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) { perror(argv[1]); return 1; }
	static char rec[4096];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		memset(rec, 'r', sizeof rec);
		int k = snprintf(rec, 64, "record %08ld\n", i);
		rec[k] = 'r';
		rec[sizeof rec - 1] = '\n';
		if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec) { perror("write"); return 1; }
		if (fsync(fd) < 0) { perror("fsync"); return 1; }
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("records %ld secs %.3f rps %.1f\n", n, s, n / s);
	return close(fd) < 0;
}
