#!/usr/bin/env bash
# The local machine's up (run as root on the computer where `pulumi up` runs): creates the
# machine, or finds it running, and prints its connection as one JSON line:
# {"host","port","user","privateKey","hostKey"}. Idempotent: a running machine is left as it
# is; a stopped one (after this computer rebooted) boots again from its own disk. Its SSH host
# key is made here before it first boots, and pinned.
#
# Parameters (filled in by components/render/localMachine.ts):
#   NAME          the machine's name (letters, digits, -)
#   DIR           the machine's own directory: its disk, its keys, its PID, its logs
#   PORT          the port its sshd listens on, in the machine and on 127.0.0.1 here
#   FORWARDS      every port forwarded from 127.0.0.1 here (sshd's and nginx's), by spaces
#   USER_NAME     the user the stack connects as (passwordless sudo, like a cloud image's)
#   UID_BASE      the first of the 65536 UIDs here that the machine's users are (its root)
#   CACHE         where the built root file system is cached (shared by every machine)
#   NEEDS         what the machine needs on this computer, COMMAND:DEBIAN-PACKAGE each
#   BUILD_ROOTFS  the builder of the root file system (components/host/build-rootfs.sh)
#   BOOT_SCRIPT   the boot script (components/host/machine-boot.sh), written as it is
# @params
NAME=dev
DIR=/var/lib/gunicorn-upstart/machines/dev
PORT=2222
FORWARDS='2222 8080 8443'
USER_NAME=deploy
UID_BASE=1862270976
CACHE=/var/cache/gunicorn-upstart/rootfs
NEEDS=('debootstrap:debootstrap' 'systemd-nspawn:systemd-container')
# shellcheck disable=SC2016 # a program, expanded when it runs
BUILD_ROOTFS='echo "$1"'
# shellcheck disable=SC2016 # a program, expanded when it runs
BOOT_SCRIPT='echo "$1"'
# @end-params
set -euo pipefail
# shellcheck source=lib/machine-running.sh
. lib/machine-running.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "the local machine needs root (debootstrap, mount, systemd-nspawn): run as root, or deploy to an existing host (config host) or a new EC2 instance (config publicKey); see the README" >&2
  exit 1
fi
missing=()
for tool in "${NEEDS[@]}"; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # Deduplicated: two commands may come from one package.
  mapfile -t missing < <(printf "%s\n" "${missing[@]}" | sort -u)
  echo "the local machine needs these Debian packages on this computer: apt-get install -y ${missing[*]} (npm run up installs them itself as root)" >&2
  exit 1
fi
# The root file system, with nginx and openssl: the stack puts nginx in front (no apt-get at
# the first up). Its last line is the tree's path.
build_rootfs() {
  bash -c "$BUILD_ROOTFS" build-rootfs "$CACHE" nginx,openssl "$UID_BASE"
}
# A machine made before it had a pinned host key and a user namespace: its disk is owned
# by this computer's root. It cannot be taken over; it is made anew.
if [ -f "$DIR/provisioned" ] && [ ! -f "$DIR/ssh_host_ed25519_key" ]; then
  echo "the local machine $NAME was made by an older version (no pinned host key, no user namespace): destroy it (pulumi destroy, or npm run down) and run up again" >&2
  exit 1
fi
mkdir -p "$DIR"
chmod 0700 "$DIR"
if [ ! -f "$DIR/id_ed25519" ]; then ssh-keygen -q -t ed25519 -N "" -C "$NAME" -f "$DIR/id_ed25519"; fi
# Its host key, made here before it first boots; the known_hosts every ssh to it checks.
if [ ! -f "$DIR/ssh_host_ed25519_key" ]; then
  ssh-keygen -q -t ed25519 -N "" -C "$NAME" -f "$DIR/ssh_host_ed25519_key"
fi
printf "[127.0.0.1]:%s %s\n" "$PORT" "$(cut -d " " -f 1,2 "$DIR/ssh_host_ed25519_key.pub")" >"$DIR/known_hosts"
if ! running; then
  rootfs=$(build_rootfs | tail -n 1)
  printf '%s' "$BOOT_SCRIPT" > "$DIR/boot.sh"
  echo "booting the local machine $NAME (sshd on 127.0.0.1:$PORT)" >&2
  rm -f "$DIR/forwarded" "$DIR/boot.err"
  setsid unshare --mount --pid --fork --mount-proc --propagation private --kill-child=SIGKILL \
    bash "$DIR/boot.sh" "$DIR" "$rootfs" "$PORT" "$USER_NAME" "$NAME" "$UID_BASE" "$FORWARDS" </dev/null >>"$DIR/console.log" 2>&1 &
  echo "$!" > "$DIR/pid"
fi
did_not_boot() {
  if [ -s "$DIR/boot.err" ]; then cat "$DIR/boot.err" >&2; else echo "the local machine $NAME did not boot; its console:" >&2; tail -n 30 "$DIR/console.log" >&2; fi
  exit 1
}
# Its ports are forwarded (or the boot failed, saying why) before ssh tries it.
for _ in $(seq 1 300); do [ -f "$DIR/forwarded" ] && break; running || did_not_boot; sleep 0.1; done
# Up when systemd has finished booting, as seen over SSH; the host key is the pinned one.
ssh_machine() {
  ssh -i "$DIR/id_ed25519" -p "$PORT" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$DIR/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms=ssh-ed25519 \
    -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "$USER_NAME@127.0.0.1" "$@"
}
state=""
for _ in $(seq 1 120); do
  state=$(ssh_machine "systemctl is-system-running --wait" 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  running || did_not_boot
  sleep 1
done
case "$state" in running | degraded) ;; *)
  echo "the local machine $NAME did not finish booting in 2 minutes ($state); its console:" >&2
  tail -n 30 "$DIR/console.log" >&2
  exit 1 ;;
esac
# Node runs the stack program, so it is there to write the JSON.
PORT="$PORT" USER_NAME="$USER_NAME" KEY="$DIR/id_ed25519" HOST_KEY="$DIR/ssh_host_ed25519_key.pub" node -e 'const fs = require("fs"); process.stdout.write(JSON.stringify({ host: "127.0.0.1", port: Number(process.env.PORT), user: process.env.USER_NAME, privateKey: fs.readFileSync(process.env.KEY, "utf8"), hostKey: fs.readFileSync(process.env.HOST_KEY, "utf8").trim() }) + "\n")'
