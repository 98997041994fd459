#!/usr/bin/env bash
# The local machine's boot (components/host/machine-up.sh writes it into the machine's
# directory and runs it as PID 1 of a new PID and mount namespace): mounts the machine's disk
# (a copy-on-write overlay of the cached root file system), provisions it once, boots it with
# systemd-nspawn in a user namespace, gives it its own network (slirp4netns) and forwards the
# ports it serves from 127.0.0.1 here.
#
# Its parameters come on its command line (it is written as it is, and expanded when it runs):
#   $1 DIR        the machine's own directory (its disk, keys, PID, logs)
#   $2 ROOTFS     the cached root file system, the overlay's lower layer
#   $3 PORT       the port the machine's sshd listens on
#   $4 USER_NAME  the user the stack connects as (passwordless sudo)
#   $5 NAME       the machine's name
#   $6 UID_BASE   the UID here that is root in the machine (the first of 65536)
#   $7 FORWARDS   the ports forwarded from 127.0.0.1 here, separated by spaces
set -euo pipefail
DIR=$1; ROOTFS=$2; PORT=$3; USER_NAME=$4; NAME=$5; UID_BASE=$6; FORWARDS=$7
root="$DIR/root"
# The reason a boot stopped, first in what the up script says.
fail() { echo "$*" >"$DIR/boot.err"; echo "$*" >&2; exit 1; }
# Its own control groups: systemd-nspawn hands them to the machine's root, which may not
# write this computer's. On a hybrid host, the named systemd hierarchy and the unified one.
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then cgroups=(/sys/fs/cgroup); else cgroups=(/sys/fs/cgroup/unified /sys/fs/cgroup/systemd); fi
for h in "${cgroups[@]}"; do
  [ -d "$h" ] || continue
  mkdir -p "$h/gunicorn-upstart-machines/$NAME"
  echo "$$" >"$h/gunicorn-upstart-machines/$NAME/cgroup.procs"
done
mkdir -p "$DIR/upper" "$DIR/work" "$root"
# The upper directory gives the machine's / its owner: its root, not nobody.
chown "$UID_BASE:$UID_BASE" "$DIR/upper"
chmod 0755 "$DIR/upper"
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$DIR/upper,workdir=$DIR/work" "$root"
# Root in the machine is UID_BASE here: the user namespace maps 0..65535 to the range the
# cached tree's owners were shifted into. Its own network namespace, no host devices.
nspawn=(systemd-nspawn -q -D "$root" -M "gunicorn-upstart-$NAME" --register=no --keep-unit
  --private-users="$UID_BASE:65536" --private-users-ownership=off --private-network --resolv-conf=off)
# Provisioned once, before it ever runs, by root inside it (in its user namespace, never
# host root on its disk); the marker is outside the machine's disk.
if [ ! -f "$DIR/provisioned" ]; then
  stage="$DIR/provision"
  rm -rf "$stage"
  install -d -m 0700 "$stage" "$stage/ca"
  cp "$DIR/id_ed25519.pub" "$stage/authorized_keys"
  cp "$DIR/ssh_host_ed25519_key" "$DIR/ssh_host_ed25519_key.pub" "$stage/"
  # The certificate authorities this computer added (a company proxy's, say) are trusted
  # in the machine too, so pip and apt-get work there as they do here.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$stage/ca/"
  fi
  chown -R "$UID_BASE:$UID_BASE" "$stage"
  "${nspawn[@]}" --pipe --bind-ro="$stage:/run/provision" /bin/bash -s -- "$USER_NAME" "$PORT" "$(hostname)" <<'PROVISION'
set -euo pipefail
user=$1; port=$2; hostname=$3
useradd --create-home --shell /bin/bash "$user"
usermod -p "*" "$user"
install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
install -m 0600 -o "$user" -g "$user" /run/provision/authorized_keys "/home/$user/.ssh/authorized_keys"
echo "$user ALL=(ALL) NOPASSWD:ALL" >"/etc/sudoers.d/$user"
chmod 0440 "/etc/sudoers.d/$user"
# Its one host key, made outside it: the key the connection pins.
rm -f /etc/ssh/ssh_host_*
install -m 0600 /run/provision/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 0644 /run/provision/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
mkdir -p /etc/ssh/sshd_config.d
printf "Port %s\nHostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" "$port" >/etc/ssh/sshd_config.d/local-machine.conf
echo "127.0.0.1 $hostname" >>/etc/hosts
# slirp4netns's resolver, which asks this computer's.
rm -f /etc/resolv.conf
echo 'nameserver 10.0.2.3' >/etc/resolv.conf
if compgen -G '/run/provision/ca/*.crt' >/dev/null; then
  cp /run/provision/ca/*.crt /usr/local/share/ca-certificates/
  update-ca-certificates >/dev/null 2>&1 || true
  # pip in a virtualenv trusts its own bundle, not the system's, unless told.
  printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" >/etc/pip.conf
fi
PROVISION
  rm -rf "$stage"
  touch "$DIR/provisioned"
fi
rm -f "$DIR/slirp.sock"
# bash stays PID 1 of the namespace; the machine and its forwarder run as its children, so
# killing the namespace ends it all.
"${nspawn[@]}" --boot &
# Its network namespace is that of its init, which systemd-nspawn starts: the first process
# here in another one.
mine=$(readlink /proc/self/ns/net); machine=""
for _ in $(seq 1 500); do
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null || echo "$mine")" != "$mine" ] && { machine=${p#/proc/}; break 2; }
  done
  sleep 0.01
done
[ -n "$machine" ] || fail "the local machine $NAME did not start (systemd-nspawn made no network namespace)"
# Its network: outbound through this computer's (DNS included), never to this computer's
# loopback; the ports it serves are forwarded from 127.0.0.1 here, by this process group.
slirp4netns --configure --mtu=65520 --disable-host-loopback --api-socket "$DIR/slirp.sock" "$machine" tap0 >>"$DIR/slirp.log" 2>&1 &
slirp=$!
until [ -S "$DIR/slirp.sock" ]; do
  kill -0 "$slirp" 2>/dev/null || fail "the local machine $NAME got no network: slirp4netns stopped ($(tail -n 1 "$DIR/slirp.log"))"
  sleep 0.01
done
for port in $FORWARDS; do
  reply=$(printf '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":%d,"guest_port":%d}}' "$port" "$port" |
    socat - "UNIX-CONNECT:$DIR/slirp.sock")
  case "$reply" in
    *'"return"'*) ;;
    *) fail "the local machine $NAME cannot listen on 127.0.0.1:$port on this computer: another process holds that port (ss -ltnp 'sport = :$port' shows which); free it, or choose another port" ;;
  esac
done
touch "$DIR/forwarded"
wait
