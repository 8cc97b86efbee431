/* seccomp.h — installing the seccomp filter the host compiled from linux.seccomp. */
#ifndef RUNX_SECCOMP_H
#define RUNX_SECCOMP_H

/* prog: struct sock_filter[len]. 0, or -1 with errno. */
int seccomp_install(const void *prog, unsigned short len, unsigned flags);

#endif
