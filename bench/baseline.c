/*
 * baseline: the least a frame server can do. An epoll server on a Unix socket that answers every
 * length-prefixed frame with a fixed frame of --answer-bytes bytes: the kernel's round trip, no work.
 *
 *   baseline --socket PATH --answer-bytes N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
    int fd;
    uint8_t buf[1 << 17];
    size_t len;
} client_t;

int main(int argc, char **argv) {
    const char *path = NULL;
    size_t answer_bytes = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--socket")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--answer-bytes")) answer_bytes = (size_t)atol(argv[i + 1]);
    }
    if (!path) { fprintf(stderr, "usage: baseline --socket PATH --answer-bytes N\n"); return 64; }
    /* A parent may have blocked or ignored signals; this server must die on SIGTERM. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    uint8_t *answer = malloc(answer_bytes + 4);
    answer[0] = (uint8_t)(answer_bytes >> 24); answer[1] = (uint8_t)(answer_bytes >> 16);
    answer[2] = (uint8_t)(answer_bytes >> 8); answer[3] = (uint8_t)answer_bytes;
    memset(answer + 4, 'x', answer_bytes);

    unlink(path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1024)) { perror("baseline"); return 1; }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int e = 0; e < n; e++) {
            client_t *c = events[e].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    client_t *nc = calloc(1, sizeof(client_t));
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            for (;;) {
                ssize_t got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
                if (got == 0 || (got < 0 && errno != EAGAIN)) { close(c->fd); free(c); c = NULL; break; }
                if (got < 0) break;
                c->len += (size_t)got;
            }
            if (!c) continue;
            size_t off = 0;
            while (c->len - off >= 4) {
                size_t len = ((size_t)c->buf[off] << 24) | ((size_t)c->buf[off + 1] << 16) | ((size_t)c->buf[off + 2] << 8) | c->buf[off + 3];
                if (c->len - off < len + 4) break;
                off += len + 4;
                size_t sent = 0;
                while (sent < answer_bytes + 4) {
                    ssize_t w = send(c->fd, answer + sent, answer_bytes + 4 - sent, MSG_NOSIGNAL);
                    if (w < 0) { if (errno == EAGAIN) continue; break; }
                    sent += (size_t)w;
                }
            }
            memmove(c->buf, c->buf + off, c->len - off);
            c->len -= off;
        }
    }
}
