#define _GNU_SOURCE
#include "credsd_system.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

int credsd_disable_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int credsd_is_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

struct private_umask_bind {
    int fd;
    const void *address;
    socklen_t length;
    mode_t mask;
    int result;
    int error;
};

static void *bind_on_private_thread(void *argument) {
    struct private_umask_bind *call = argument;
    // The thread's filesystem context (cwd, root, umask) becomes its own; it is discarded when the thread ends.
    if (unshare(CLONE_FS) != 0) {
        call->result = -2;
        call->error = errno;
        return NULL;
    }
    umask(call->mask);
    call->result = bind(call->fd, (const struct sockaddr *)call->address, call->length);
    call->error = call->result == 0 ? 0 : errno;
    return NULL;
}

int credsd_bind_with_private_umask(int fd, const void *address, unsigned int length, unsigned int mask) {
    struct private_umask_bind call = {fd, address, (socklen_t)length, (mode_t)mask, -2, 0};
    pthread_t thread;
    int created = pthread_create(&thread, NULL, bind_on_private_thread, &call);
    if (created != 0) {
        errno = created;
        return -2;
    }
    pthread_join(thread, NULL);
    errno = call.error;
    return call.result;
}
