// LD_PRELOAD shim for instruction counting under callgrind: CLOCK_MONOTONIC runs SLOWCLOCK
// times slower than real time from the first call on, so `bench trim`'s fixed time budget
// covers SLOWCLOCK times as many passes (no instruction count changes per pass).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
static int (*real)(clockid_t, struct timespec *);
static double factor = 0, start = -1;
int clock_gettime(clockid_t id, struct timespec *ts) {
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    if (rc != 0 || id != CLOCK_MONOTONIC) return rc;
    if (factor == 0) { const char *f = getenv("SLOWCLOCK"); factor = f ? atof(f) : 1; if (factor <= 0) factor = 1; }
    double now = ts->tv_sec + ts->tv_nsec / 1e9;
    if (start < 0) start = now;
    double t = start + (now - start) / factor;
    ts->tv_sec = (time_t)t; ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
    return rc;
}
