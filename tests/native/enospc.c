/* A full disk under one folder, for the tests of point 6 (docs/operations.md, "Exit codes").
 *
 * LD_PRELOAD=enospc.so: every write to a file whose path starts with $BM_ENOSPC_PREFIX fails
 * with ENOSPC, as the kernel fails it on a full disk — for Python, DuckDB and SQLite alike,
 * which all write through these calls. With $BM_ENOSPC_ARMED set, only once that file exists
 * (the test creates it when the run reaches the step it wants to hit).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int full(int fd) {
    const char *prefix = getenv("BM_ENOSPC_PREFIX");
    if (!prefix || !*prefix) return 0;
    const char *armed = getenv("BM_ENOSPC_ARMED");
    if (armed && *armed && access(armed, F_OK) != 0) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

#define NEXT(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t count) {
    NEXT(write);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    NEXT(pwrite);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    NEXT(pwrite64);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return real(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    NEXT(writev);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return real(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    NEXT(pwritev);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return real(fd, iov, iovcnt, offset);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
    NEXT(fallocate);
    if (full(fd)) { errno = ENOSPC; return -1; }
    return real(fd, mode, offset, len);
}

int posix_fallocate(int fd, off_t offset, off_t len) {
    NEXT(posix_fallocate);
    if (full(fd)) return ENOSPC;
    return real(fd, offset, len);
}
