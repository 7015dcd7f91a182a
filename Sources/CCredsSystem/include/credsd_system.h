#ifndef CREDSD_SYSTEM_H
#define CREDSD_SYSTEM_H

/// Marks the process not dumpable (no core dump, no ptrace by other users): prctl(PR_SET_DUMPABLE, 0).
/// Returns 0 on success, -1 with errno set. prctl is variadic, which Swift cannot call directly.
int credsd_disable_dumpable(void);

/// Whether the process is dumpable: 1, 0, or -1 with errno set.
int credsd_is_dumpable(void);

#endif
