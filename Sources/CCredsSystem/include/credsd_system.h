#ifndef CREDSD_SYSTEM_H
#define CREDSD_SYSTEM_H

/// Marks the process not dumpable (no core dump, no ptrace by other users): prctl(PR_SET_DUMPABLE, 0).
/// Returns 0 on success, -1 with errno set. prctl is variadic, which Swift cannot call directly.
int credsd_disable_dumpable(void);

/// Whether the process is dumpable: 1, 0, or -1 with errno set.
int credsd_is_dumpable(void);

/// bind(2) of `fd` to `address` (a `struct sockaddr_un` of `length` bytes) with umask `mask`, on a short-lived thread
/// that has its own umask (unshare(CLONE_FS)): the process's umask is never changed, so other threads creating files
/// meanwhile are not affected. Returns bind's result (errno set on -1), or -2 with errno set when no thread with a
/// private umask could be had (unshare refused by a seccomp filter, no thread): then nothing was bound.
int credsd_bind_with_private_umask(int fd, const void *address, unsigned int length, unsigned int mask);

#endif
