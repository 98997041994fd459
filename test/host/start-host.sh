#!/usr/bin/env bash
# Boots the real-host test harness's "host": run as root inside
#   unshare --mount --pid --fork --mount-proc --propagation private
# it gives the namespace a private copy-on-write view of /etc, /home, /var, /srv, /opt and
# /usr/local (overlays whose upper layers live in SCRATCH, so the machine's own files are never
# written), a private /run, `deploy` and `admin` users with passwordless sudo and the test's key, the
# Upstart stand-in at /usr/local/sbin/initctl, then runs SETUP (the test's app) and a real
# OpenSSH server on 127.0.0.1:PORT. Everything started in here dies with the namespace.
set -euo pipefail
scratch=$1
port=$2
pubkey=$3
setup=${4:-}
here=$(cd "$(dirname "$0")" && pwd)

for d in etc home var srv opt usr/local; do
  mkdir -p "$scratch/overlay/$d/upper" "$scratch/overlay/$d/work"
  mount -t overlay overlay \
    -o "lowerdir=/$d,upperdir=$scratch/overlay/$d/upper,workdir=$scratch/overlay/$d/work" "/$d"
done
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd /etc/init
echo "127.0.0.1 $(hostname)" >> /etc/hosts

# `deploy` is the user the component connects as; `admin` is the test's own way in as root, so
# a test can take deploy's sudo away (least privilege) and still look at the host.
for user in deploy admin; do
  useradd --create-home --shell /bin/bash "$user"
  usermod -p '*' "$user" # unlocked for key login, no password
  install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
  install -m 0600 -o "$user" -g "$user" "$pubkey" "/home/$user/.ssh/authorized_keys"
  echo "$user ALL=(ALL) NOPASSWD:ALL" > "/etc/sudoers.d/$user"
  chmod 0440 "/etc/sudoers.d/$user"
done
install -m 0755 "$here/initctl" /usr/local/sbin/initctl

ssh-keygen -q -t ed25519 -N '' -f "$scratch/host_key"
cat > "$scratch/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $scratch/host_key
PidFile $scratch/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
MaxStartups 50
# SFTP, as a stock sshd has it: the command provider copies release archives over it.
Subsystem sftp /usr/lib/openssh/sftp-server
CONF

if [ -n "$setup" ]; then bash "$setup"; fi
# bash stays PID 1 of the namespace, so orphans are reaped; sshd runs in the foreground.
/usr/sbin/sshd -D -e -f "$scratch/sshd_config" &
wait
