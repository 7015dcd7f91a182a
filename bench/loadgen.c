/*
 * loadgen: a closed-loop load generator for length-prefixed frames over a Unix socket.
 *
 * One epoll thread drives N connections. Each connection sends the request frame, waits for one whole
 * answer frame, records the round trip, and sends again, until the duration or request count is reached.
 * Answers are checked: an answer containing "error" (or, with --expect, lacking that text) counts as an error.
 *
 *   loadgen --socket PATH --connections N --payload FILE [--seconds S | --requests R] [--expect TEXT]
 *           [--warmup S] [--hold N]
 *
 * Prints one line: requests=… errors=… seconds=… rps=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=…
 * --hold N opens N extra idle connections and keeps them open for the run (memory measurements).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    size_t sent;
    uint8_t *in;
    size_t in_len, in_cap;
    uint64_t started_ns;
    int measuring;
} conn_t;

static uint8_t *frame;
static size_t frame_len;
static const char *expect_text;
/* --resp: the payload file holds a key; each request is a RESP `GET key` and each answer a RESP reply. */
static int resp_mode;

/* Bytes of the complete answer at the front of `in`, or 0 while it is incomplete. `*bad` is set for an error
 * answer: a JSON-RPC error (or one without --expect's text), or a RESP error or nil reply. */
static size_t complete_answer(const uint8_t *in, size_t len, int *bad) {
    if (!resp_mode) {
        if (len < 4) return 0;
        size_t body = ((size_t)in[0] << 24) | ((size_t)in[1] << 16) | ((size_t)in[2] << 8) | in[3];
        if (len < body + 4) return 0;
        *bad = memmem(in + 4, body, "\"error\"", 7) != NULL
            || (expect_text && memmem(in + 4, body, expect_text, strlen(expect_text)) == NULL);
        return body + 4;
    }
    const uint8_t *eol = memmem(in, len, "\r\n", 2);
    if (!eol) return 0;
    size_t header = (size_t)(eol - in) + 2;
    if (in[0] != '$') {
        *bad = in[0] == '-';
        return header;
    }
    long body = strtol((const char *)in + 1, NULL, 10);
    if (body < 0) {
        *bad = 1;
        return header;
    }
    if (len < header + (size_t)body + 2) return 0;
    *bad = 0;
    return header + (size_t)body + 2;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int connect_unix(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t *samples;
static size_t samples_len, samples_cap;

static void record(uint64_t ns) {
    if (samples_len == samples_cap) {
        samples_cap = samples_cap ? samples_cap * 2 : 1 << 16;
        samples = realloc(samples, samples_cap * sizeof(uint64_t));
    }
    samples[samples_len++] = ns;
}

/* Sends what is left of the request frame; 0 when all is sent, 1 when it would block, -1 on error. */
static int send_rest(conn_t *c) {
    while (c->sent < frame_len) {
        ssize_t n = send(c->fd, frame + c->sent, frame_len - c->sent, MSG_NOSIGNAL);
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

static void start_request(conn_t *c, int measuring) {
    c->sent = 0;
    c->in_len = 0;
    c->measuring = measuring;
    c->started_ns = now_ns();
    if (send_rest(c) < 0) {
        fprintf(stderr, "loadgen: send failed: %s\n", strerror(errno));
        exit(2);
    }
}

/* CPU time (ns) the threads of process `pid` have used: the first field of each /proc/PID/task/TID/schedstat. */
static uint64_t process_cpu_ns(int pid) {
    char dir_path[64];
    snprintf(dir_path, sizeof dir_path, "/proc/%d/task", pid);
    DIR *dir = opendir(dir_path);
    if (!dir) return 0;
    uint64_t total = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.') continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s/schedstat", dir_path, entry->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1) total += ns;
        fclose(f);
    }
    closedir(dir);
    return total;
}

int main(int argc, char **argv) {
    const char *path = NULL, *payload_path = NULL;
    int connections = 1, hold = 0, server_pid = 0;
    double seconds = 0, warmup = 0.5;
    long requests_limit = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--socket")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--connections")) connections = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--payload")) payload_path = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) requests_limit = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--expect")) expect_text = argv[i + 1];
        else if (!strcmp(argv[i], "--warmup")) warmup = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--hold")) hold = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--server-pid")) server_pid = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--resp")) resp_mode = atoi(argv[i + 1]);
        else { fprintf(stderr, "loadgen: unknown option %s\n", argv[i]); return 64; }
    }
    if (!path || !payload_path || connections < 1 || (seconds <= 0 && requests_limit <= 0)) {
        fprintf(stderr, "usage: loadgen --socket PATH --connections N --payload FILE (--seconds S | --requests R)\n");
        return 64;
    }
    FILE *f = fopen(payload_path, "rb");
    if (!f) { perror("loadgen: payload"); return 66; }
    uint8_t body[65536];
    size_t body_len = fread(body, 1, sizeof(body), f);
    fclose(f);
    while (body_len && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r')) body_len--;
    if (resp_mode) {
        frame = malloc(body_len + 64);
        frame_len = (size_t)sprintf((char *)frame, "*2\r\n$3\r\nGET\r\n$%zu\r\n", body_len);
        memcpy(frame + frame_len, body, body_len);
        frame_len += body_len;
        memcpy(frame + frame_len, "\r\n", 2);
        frame_len += 2;
    } else {
        frame_len = body_len + 4;
        frame = malloc(frame_len);
        frame[0] = (uint8_t)(body_len >> 24); frame[1] = (uint8_t)(body_len >> 16);
        frame[2] = (uint8_t)(body_len >> 8); frame[3] = (uint8_t)body_len;
        memcpy(frame + 4, body, body_len);
    }

    int *held = calloc((size_t)(hold > 0 ? hold : 1), sizeof(int));
    for (int i = 0; i < hold; i++) {
        held[i] = connect_unix(path);
        if (held[i] < 0) { fprintf(stderr, "loadgen: hold connect %d failed: %s\n", i, strerror(errno)); return 69; }
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn_t *conns = calloc((size_t)connections, sizeof(conn_t));
    for (int i = 0; i < connections; i++) {
        conns[i].fd = connect_unix(path);
        if (conns[i].fd < 0) { fprintf(stderr, "loadgen: connect failed: %s\n", strerror(errno)); return 69; }
        conns[i].in_cap = 1 << 16;
        conns[i].in = malloc(conns[i].in_cap);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }

    uint64_t t0 = now_ns();
    uint64_t measure_from = t0 + (uint64_t)(warmup * 1e9);
    uint64_t deadline = seconds > 0 ? measure_from + (uint64_t)(seconds * 1e9) : UINT64_MAX;
    long done = 0, errors = 0, active = connections;
    if (requests_limit > 0) measure_from = t0;
    for (int i = 0; i < connections; i++) start_request(&conns[i], now_ns() >= measure_from);

    struct epoll_event events[256];
    /* Server CPU is counted over the measured part of the run: from measure_from to the end. */
    uint64_t cpu_start = 0;
    long done_at_cpu_start = 0;
    int cpu_started = requests_limit > 0;
    if (server_pid && cpu_started) cpu_start = process_cpu_ns(server_pid);
    while (active > 0) {
        if (server_pid && !cpu_started && now_ns() >= measure_from) {
            cpu_start = process_cpu_ns(server_pid);
            done_at_cpu_start = done;
            cpu_started = 1;
        }
        int n = epoll_wait(ep, events, 256, 1000);
        for (int e = 0; e < n; e++) {
            conn_t *c = events[e].data.ptr;
            if (c->fd < 0) continue;
            if (c->sent < frame_len && send_rest(c) < 0) { fprintf(stderr, "loadgen: send failed\n"); return 2; }
            for (;;) {
                if (c->in_len == c->in_cap) { c->in_cap *= 2; c->in = realloc(c->in, c->in_cap); }
                ssize_t got = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
                if (got == 0) { fprintf(stderr, "loadgen: server closed a connection\n"); return 3; }
                if (got < 0) break;
                c->in_len += (size_t)got;
            }
            for (;;) {
                int bad = 0;
                size_t answer_len = complete_answer(c->in, c->in_len, &bad);
                if (answer_len == 0) break;
                uint64_t end = now_ns();
                if (c->measuring) {
                    record(end - c->started_ns);
                    done++;
                    errors += bad;
                }
                memmove(c->in, c->in + answer_len, c->in_len - answer_len);
                c->in_len -= answer_len;
                int finished = (requests_limit > 0 && done >= requests_limit) || end >= deadline;
                if (finished) {
                    close(c->fd);
                    c->fd = -1;
                    active--;
                    break;
                }
                start_request(c, end >= measure_from);
            }
        }
    }
    uint64_t t1 = now_ns();
    uint64_t cpu_end = server_pid ? process_cpu_ns(server_pid) : 0;
    long cpu_requests = done - done_at_cpu_start;
    double elapsed = (double)((seconds > 0 ? (t1 < deadline ? t1 : deadline) : t1) - measure_from) / 1e9;
    qsort(samples, samples_len, sizeof(uint64_t), cmp_u64);
#define PCT(q) (samples_len ? samples[(size_t)((double)(samples_len - 1) * (q))] / 1000 : 0)
    printf("requests=%ld errors=%ld seconds=%.3f rps=%.0f p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu max_us=%llu\n",
           done, errors, elapsed, elapsed > 0 ? (double)done / elapsed : 0, (unsigned long long)PCT(0.5),
           (unsigned long long)PCT(0.9), (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
           (unsigned long long)(samples_len ? samples[samples_len - 1] / 1000 : 0));
    if (server_pid && cpu_requests > 0) {
        printf("server_cpu_us_per_req=%.2f\n", (double)(cpu_end - cpu_start) / 1000.0 / (double)cpu_requests);
    }
    for (int i = 0; i < hold; i++) close(held[i]);
    return errors > 0 ? 1 : 0;
}
