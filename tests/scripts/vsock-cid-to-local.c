/*
 * LD_PRELOAD shim for use INSIDE a tiny guest (scripts/tiny-guest.sh) only:
 * connect() to any AF_VSOCK CID >= 3 goes to CID 1 (VMADDR_CID_LOCAL), which
 * the guest's vsock_loopback answers.
 *
 * Why: libvirt refuses guest CIDs below 3 ("guest CIDs must be >= 3"), so a
 * libvirt test-driver domain can only advertise e.g. CID 42, while a guest
 * without a vsock device (none is ever given to qemu here) can reach only
 * CID 1 (and 2 when no guest-to-host transport is loaded); a CID >= 3 would
 * need vhost-vsock and a real nested VM. With this shim, a client that dials
 * the CID libvirt reports (e.g. libvirt-ssh-proxy) lands on a listener in the
 * same guest, the port unchanged.
 *
 * Build: gcc -shared -fPIC -O2 -o vsock-cid-to-local.so vsock-cid-to-local.c -ldl
 * Use:   LD_PRELOAD=/usr/local/lib/vsock-cid-to-local.so socat - VSOCK-CONNECT:42:22
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real_connect)(int, const struct sockaddr *, socklen_t);
    if (!real_connect) {
        real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
        if (!real_connect) {
            errno = ENOSYS;
            return -1;
        }
    }
    if (addr && len >= sizeof(struct sockaddr_vm) && addr->sa_family == AF_VSOCK) {
        struct sockaddr_vm vm;
        memcpy(&vm, addr, sizeof vm);
        if (vm.svm_cid > VMADDR_CID_HOST && vm.svm_cid != VMADDR_CID_ANY) {
            vm.svm_cid = VMADDR_CID_LOCAL;
            return real_connect(fd, (const struct sockaddr *)&vm, sizeof vm);
        }
    }
    return real_connect(fd, addr, len);
}
