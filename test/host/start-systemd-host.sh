#!/usr/bin/env bash
# Boots the systemd test host: run as root inside
#   unshare --mount --pid --fork --mount-proc --propagation private
# it mounts a copy-on-write overlay of ROOTFS (components/host/build-rootfs.sh; the cached tree is
# never written), adds a `deploy` user with passwordless sudo and an `admin` user, both with
# the test's key, makes sshd listen on 127.0.0.1:PORT, runs SETUP (the test's app) inside it,
# and boots it with systemd-nspawn: real systemd as PID 1, real sshd, sharing the host's
# network. Killing this namespace's PID 1 ends the container with it.
set -euo pipefail
scratch=$1
port=$2
pubkey=$3
setup=$4
rootfs=$5

root="$scratch/root"
mkdir -p "$scratch/upper" "$scratch/work" "$root"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$root"

for user in deploy admin; do
  chroot "$root" useradd --create-home --shell /bin/bash "$user"
  chroot "$root" usermod -p '*' "$user"
  install -d -m 0700 "$root/home/$user/.ssh"
  install -m 0600 "$pubkey" "$root/home/$user/.ssh/authorized_keys"
  chroot "$root" chown -R "$user:$user" "/home/$user/.ssh"
  echo "$user ALL=(ALL) NOPASSWD:ALL" > "$root/etc/sudoers.d/$user"
  chmod 0440 "$root/etc/sudoers.d/$user"
done
mkdir -p "$root/etc/ssh/sshd_config.d"
cat > "$root/etc/ssh/sshd_config.d/test-host.conf" <<CONF
Port $port
ListenAddress 127.0.0.1
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 50
CONF
echo "127.0.0.1 $(hostname)" >> "$root/etc/hosts"
if [ -s "$setup" ]; then
  cp "$setup" "$root/tmp/setup.sh"
  chroot "$root" bash /tmp/setup.sh
  rm -f "$root/tmp/setup.sh"
fi

# bash stays PID 1 of the namespace; nspawn (and the container under it) runs as its child.
systemd-nspawn -q -D "$root" -M "test-host-$port" --boot --register=no --keep-unit &
wait
