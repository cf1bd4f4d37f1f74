/*
 * W4's floor: libpq, PostgreSQL's own C client, opening N connections at once (non-blocking
 * PQconnectStart/PQconnectPoll, all in flight together), the time until every one is ready,
 * in milliseconds. No query: the server's cost of a cold start and nothing else.
 *
 *   libpq-floor CONNINFO [connections=10] [reps=3] [pause_ms=100]
 *
 * Prints each repetition's time on its own line. bench/workloads/libpq-floor.mjs builds it
 * (gcc, -lpq) into a cache folder on first use.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Opens `n` connections at once; returns the milliseconds until all are ready, or -1. */
static double open_all(const char *conninfo, int n) {
    PGconn **conns = calloc(n, sizeof *conns);
    PostgresPollingStatusType *want = calloc(n, sizeof *want);
    struct pollfd *fds = calloc(n, sizeof *fds);
    int pending = n;
    double start = now_ms();
    for (int i = 0; i < n; i++) {
        conns[i] = PQconnectStart(conninfo);
        if (!conns[i] || PQstatus(conns[i]) == CONNECTION_BAD) {
            fprintf(stderr, "connect: %s", conns[i] ? PQerrorMessage(conns[i]) : "out of memory\n");
            return -1;
        }
        /* libpq's protocol: after PQconnectStart, wait until writable, then poll. */
        want[i] = PGRES_POLLING_WRITING;
    }
    while (pending > 0) {
        for (int i = 0; i < n; i++) {
            int done = want[i] == PGRES_POLLING_OK;
            fds[i].fd = done ? -1 : PQsocket(conns[i]);
            fds[i].events = want[i] == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            fds[i].revents = 0;
        }
        if (poll(fds, n, 10000) <= 0) {
            fprintf(stderr, "connect: no progress in 10 s\n");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            want[i] = PQconnectPoll(conns[i]);
            if (want[i] == PGRES_POLLING_FAILED) {
                fprintf(stderr, "connect: %s", PQerrorMessage(conns[i]));
                return -1;
            }
            if (want[i] == PGRES_POLLING_OK) pending--;
        }
    }
    double elapsed = now_ms() - start;
    for (int i = 0; i < n; i++) PQfinish(conns[i]);
    free(conns);
    free(want);
    free(fds);
    return elapsed;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONNINFO [connections] [reps] [pause_ms]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 10;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    int pause = argc > 4 ? atoi(argv[4]) : 100;
    for (int rep = 0; rep < reps; rep++) {
        double ms = open_all(argv[1], n);
        if (ms < 0) return 1;
        printf("%.3f\n", ms);
        fflush(stdout);
        /* As W4 does between its pools: the server reaps the closed backends. */
        struct timespec pause_ts = {pause / 1000, (long)(pause % 1000) * 1000000L};
        nanosleep(&pause_ts, NULL);
    }
    return 0;
}
