/* panic-clock-shim.c - LD_PRELOAD shim for tests/panic_guard.rs.
 *
 * The first $NSS_TEST_FAIL_REALTIME_CALLS calls of
 * clock_gettime(CLOCK_REALTIME) made from code inside a libnss_libvirt*
 * module fail with EINVAL. The modules read the time through Rust's
 * SystemTime::now(), which panics when clock_gettime fails: this forces a
 * panic inside a lookup without any test hook in the modules. Calls from
 * anywhere else (glibc, getent, valgrind) are passed through untouched.
 *
 *   cc -shared -fPIC -o panic-clock-shim.so panic-clock-shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int remaining = -1;

static int called_from_a_module(void *caller)
{
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libnss_libvirt");
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    if (remaining < 0) {
        const char *n = getenv("NSS_TEST_FAIL_REALTIME_CALLS");
        remaining = n ? atoi(n) : 0;
    }
    if (clock == CLOCK_REALTIME && remaining > 0 && called_from_a_module(__builtin_return_address(0))) {
        remaining--;
        errno = EINVAL;
        return -1;
    }
    return real(clock, ts);
}
