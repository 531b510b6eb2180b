#!/usr/bin/env bash
# ssh-proxy-netns.sh WORKDIR ADDRESS...
#
# Runs a real sshd for the SSH proxy tests, inside the private network and
# mount namespaces that `unshare --net --mount --fork` gave this script:
# `lo` is brought up, sshd listens on port 22 of each ADDRESS (all in
# 127.0.0.0/8, so nothing leaves the namespace), and /run is a private
# tmpfs (sshd needs /run/sshd; the host's /run is never touched).
#
# Writes WORKDIR/holder.pid (this process, then sshd: nsenter -t PID reaches
# the namespaces), and everything sshd needs under WORKDIR: host key,
# authorized_keys (WORKDIR/userkey.pub), sshd_config, sshd.log. Then execs
# sshd in the foreground; the caller ends it by PID.
set -euo pipefail

work=$1
shift
[ $# -gt 0 ] || { echo "usage: $0 WORKDIR ADDRESS..." >&2; exit 2; }

mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -m 0755 /run/sshd
ip link set lo up

ssh-keygen -q -t ed25519 -N '' -C test-host -f "$work/hostkey"
cp "$work/userkey.pub" "$work/authorized_keys"
{
    for address in "$@"; do echo "ListenAddress $address:22"; done
    cat <<EOF
HostKey $work/hostkey
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
# scp uses the SFTP protocol since OpenSSH 9.0.
Subsystem sftp internal-sftp
EOF
} >"$work/sshd_config"

echo $$ >"$work/holder.pid"
exec /usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log"
