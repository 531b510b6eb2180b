/* nss-c-host.c - a C host process for tests/panic_guard.rs: what a C program
 * (sshd, getent) sees of a module, without Rust's runtime in the process.
 *
 *   nss-c-host MODULE.so SERVICE NAME...
 *
 * dlopens MODULE, calls _nss_SERVICE_gethostbyname2_r(NAME, AF_INET) for each
 * NAME in turn and prints "NAME status=S errno=E h_errno=H" per call, then
 * "libgcc_s mapped: yes|no" from /proc/self/maps. Exit 0, or 125 on a set-up
 * error.
 *
 *   cc -o nss-c-host nss-c-host.c -ldl
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

typedef int gbn2_fn(const char *, int, struct hostent *, char *, size_t, int *, int *);

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODULE.so SERVICE NAME...\n", argv[0]);
        return 125;
    }
    void *module = dlopen(argv[1], RTLD_NOW);
    if (!module) {
        fprintf(stderr, "%s\n", dlerror());
        return 125;
    }
    char symbol[128];
    snprintf(symbol, sizeof symbol, "_nss_%s_gethostbyname2_r", argv[2]);
    gbn2_fn *gethostbyname2_r = (gbn2_fn *)dlsym(module, symbol);
    if (!gethostbyname2_r) {
        fprintf(stderr, "%s\n", dlerror());
        return 125;
    }
    for (int i = 3; i < argc; i++) {
        struct hostent result;
        char buffer[1024];
        int err = 0, herr = 0;
        int status = gethostbyname2_r(argv[i], AF_INET, &result, buffer, sizeof buffer, &err, &herr);
        printf("%s status=%d errno=%d h_errno=%d\n", argv[i], status, err, herr);
    }
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) {
        perror("/proc/self/maps");
        return 125;
    }
    char line[4096];
    int gcc_s = 0;
    while (fgets(line, sizeof line, maps))
        gcc_s |= strstr(line, "libgcc_s") != NULL;
    printf("libgcc_s mapped: %s\n", gcc_s ? "yes" : "no");
    return 0;
}
