/**
 * The local machine's scripts, pure: a Debian bookworm system booted with `systemd-nspawn`
 * on the machine where `pulumi up` runs, with its own root file system (a copy-on-write
 * overlay of a cached tree), real systemd as PID 1, in a user namespace (its root is an
 * unprivileged UID on this computer), with its own network (slirp4netns: outbound through
 * this computer, no way to this computer's loopback) whose served ports — sshd's and
 * nginx's — are forwarded from 127.0.0.1 here; its SSH host key is made here before it first
 * boots and pinned. It needs root (debootstrap, mounts, systemd-nspawn).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shQuote } from "../shell";
import { checkInt, checkName, SpecError } from "../spec";

/** A local machine. */
export interface LocalMachineSpec {
  /** Its name: letters, digits, `-`; names its directory and the container. */
  name: string;
  /** The port its sshd listens on, in the machine and forwarded from 127.0.0.1 here. */
  sshPort: number;
  /** The other ports it serves (nginx's), each forwarded from 127.0.0.1:<port> here. */
  ports: number[];
  /** Where the machine's own files live (its disk, key, PID): `<stateDir>/<name>`. */
  stateDir: string;
  /** Where the built root file system is cached (shared by every machine). */
  rootfsCache: string;
}

/**
 * nginx's ports on the local machine: forwarded from this computer's loopback, where 80 and 443
 * may be taken (and need root to bind).
 */
export const LOCAL_HTTP_PORTS = { http: 8080, https: 8443 } as const;

export const LOCAL_MACHINE_DEFAULTS = {
  sshPort: 2222,
  /** nginx's ports on the local machine: the stack's defaults. */
  ports: [LOCAL_HTTP_PORTS.http, LOCAL_HTTP_PORTS.https] as readonly number[],
  stateDir: "/var/lib/gunicorn-upstart/machines",
  rootfsCache: "/var/cache/gunicorn-upstart/rootfs",
  /** The user the stack connects as: passwordless sudo, like a cloud image's. */
  user: "deploy",
  /**
   * The first of the 65536 UIDs/GIDs on this computer that the machines' users are (root in
   * a machine is this UID here): in systemd's range for containers, a multiple of 65536.
   */
  uidBase: 0x6f000000,
} as const;

/** Validates a machine's settings; errors name the field. */
export function checkLocalMachine(raw: {
  name: unknown;
  sshPort?: unknown;
  ports?: unknown;
  stateDir?: unknown;
  rootfsCache?: unknown;
}): LocalMachineSpec {
  const name = checkName("name", raw.name);
  if (!/^[a-z0-9][a-z0-9-]{0,50}$/.test(name)) {
    throw new SpecError(
      "name",
      `expected lower-case letters, digits and -, got ${JSON.stringify(name)}`,
    );
  }
  const path = (field: string, value: unknown, fallback: string) => {
    const v = value ?? fallback;
    if (typeof v !== "string" || !/^\/[A-Za-z0-9._/-]+$/.test(v)) {
      throw new SpecError(field, `expected an absolute path, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const sshPort = checkInt("sshPort", raw.sshPort ?? LOCAL_MACHINE_DEFAULTS.sshPort, 1, 65535);
  const rawPorts = raw.ports ?? LOCAL_MACHINE_DEFAULTS.ports;
  if (!Array.isArray(rawPorts)) {
    throw new SpecError(
      "ports",
      `expected a list of port numbers, got ${JSON.stringify(rawPorts)}`,
    );
  }
  const ports = rawPorts.map((p: unknown) => checkInt("ports", p, 1, 65535));
  for (const [i, p] of ports.entries()) {
    if (p === sshPort || ports.indexOf(p) !== i) {
      throw new SpecError(
        "ports",
        `${p} is listed twice (with sshPort ${sshPort}): each port is forwarded once`,
      );
    }
  }
  return {
    name,
    sshPort,
    ports,
    stateDir: path("stateDir", raw.stateDir, LOCAL_MACHINE_DEFAULTS.stateDir),
    rootfsCache: path("rootfsCache", raw.rootfsCache, LOCAL_MACHINE_DEFAULTS.rootfsCache),
  };
}

/**
 * What the local machine needs on this computer: each command, and the Debian package that has
 * it. The one list: the machine's up script checks it, and `npm run up` installs the missing
 * packages before the engine runs (scripts/local-machine-deps.sh).
 */
export const LOCAL_MACHINE_NEEDS: readonly { command: string; debianPackage: string }[] = [
  { command: "debootstrap", debianPackage: "debootstrap" },
  { command: "systemd-nspawn", debianPackage: "systemd-container" },
  { command: "unshare", debianPackage: "util-linux" },
  { command: "ssh-keygen", debianPackage: "openssh-client" },
  { command: "ssh", debianPackage: "openssh-client" },
  // The machine's own network: outbound through this computer, the forwards from its loopback.
  { command: "slirp4netns", debianPackage: "slirp4netns" },
  // To ask slirp4netns (its API is a unix socket) for each forward.
  { command: "socat", debianPackage: "socat" },
];

/** The builder of the root file system, shared with the systemd test host. */
const BUILD_ROOTFS = readFileSync(join(__dirname, "../machine/build-rootfs.sh"), "utf8");

function prelude(spec: LocalMachineSpec): string[] {
  return [
    "set -euo pipefail",
    `NAME=${shQuote(spec.name)}`,
    `DIR=${shQuote(`${spec.stateDir}/${spec.name}`)}`,
    "running() {",
    '  [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null',
    "}",
  ];
}

/**
 * The boot script the up script writes into the machine's directory and runs, as PID 1 of a
 * new PID and mount namespace: mounts the machine's disk, provisions it once, boots it, gives
 * it its network and forwards its ports. Its parameters come on its command line.
 */
export function renderMachineBoot(): string {
  return [
    "set -euo pipefail",
    "DIR=$1; ROOTFS=$2; PORT=$3; USER_NAME=$4; NAME=$5; UID_BASE=$6; FORWARDS=$7",
    'root="$DIR/root"',
    "# The reason a boot stopped, first in what the up script says.",
    'fail() { echo "$*" >"$DIR/boot.err"; echo "$*" >&2; exit 1; }',
    "# Its own control groups: systemd-nspawn hands them to the machine's root, which may not",
    "# write this computer's. On a hybrid host, the named systemd hierarchy and the unified one.",
    'if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then cgroups=(/sys/fs/cgroup); else cgroups=(/sys/fs/cgroup/unified /sys/fs/cgroup/systemd); fi',
    'for h in "${cgroups[@]}"; do',
    '  [ -d "$h" ] || continue',
    '  mkdir -p "$h/gunicorn-upstart-machines/$NAME"',
    '  echo "$$" >"$h/gunicorn-upstart-machines/$NAME/cgroup.procs"',
    "done",
    'mkdir -p "$DIR/upper" "$DIR/work" "$root"',
    "# The upper directory gives the machine's / its owner: its root, not nobody.",
    'chown "$UID_BASE:$UID_BASE" "$DIR/upper"',
    'chmod 0755 "$DIR/upper"',
    'mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$DIR/upper,workdir=$DIR/work" "$root"',
    "# Root in the machine is UID_BASE here: the user namespace maps 0..65535 to the range the",
    "# cached tree's owners were shifted into. Its own network namespace, no host devices.",
    'nspawn=(systemd-nspawn -q -D "$root" -M "gunicorn-upstart-$NAME" --register=no --keep-unit',
    '  --private-users="$UID_BASE:65536" --private-users-ownership=off --private-network --resolv-conf=off)',
    "# Provisioned once, before it ever runs, by root inside it (in its user namespace, never",
    "# host root on its disk); the marker is outside the machine's disk.",
    'if [ ! -f "$DIR/provisioned" ]; then',
    '  stage="$DIR/provision"',
    '  rm -rf "$stage"',
    '  install -d -m 0700 "$stage" "$stage/ca"',
    '  cp "$DIR/id_ed25519.pub" "$stage/authorized_keys"',
    '  cp "$DIR/ssh_host_ed25519_key" "$DIR/ssh_host_ed25519_key.pub" "$stage/"',
    "  # The certificate authorities this computer added (a company proxy's, say) are trusted",
    "  # in the machine too, so pip and apt-get work there as they do here.",
    '  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then',
    '    cp /usr/local/share/ca-certificates/*.crt "$stage/ca/"',
    "  fi",
    '  chown -R "$UID_BASE:$UID_BASE" "$stage"',
    '  "${nspawn[@]}" --pipe --bind-ro="$stage:/run/provision" /bin/bash -s -- "$USER_NAME" "$PORT" "$(hostname)" <<\'PROVISION\'',
    "set -euo pipefail",
    "user=$1; port=$2; hostname=$3",
    'useradd --create-home --shell /bin/bash "$user"',
    'usermod -p "*" "$user"',
    'install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"',
    'install -m 0600 -o "$user" -g "$user" /run/provision/authorized_keys "/home/$user/.ssh/authorized_keys"',
    'echo "$user ALL=(ALL) NOPASSWD:ALL" >"/etc/sudoers.d/$user"',
    'chmod 0440 "/etc/sudoers.d/$user"',
    "# Its one host key, made outside it: the key the connection pins.",
    "rm -f /etc/ssh/ssh_host_*",
    "install -m 0600 /run/provision/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key",
    "install -m 0644 /run/provision/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub",
    "mkdir -p /etc/ssh/sshd_config.d",
    'printf "Port %s\\nHostKey /etc/ssh/ssh_host_ed25519_key\\nPasswordAuthentication no\\nKbdInteractiveAuthentication no\\n" "$port" >/etc/ssh/sshd_config.d/local-machine.conf',
    'echo "127.0.0.1 $hostname" >>/etc/hosts',
    "# slirp4netns's resolver, which asks this computer's.",
    "rm -f /etc/resolv.conf",
    "echo 'nameserver 10.0.2.3' >/etc/resolv.conf",
    "if compgen -G '/run/provision/ca/*.crt' >/dev/null; then",
    "  cp /run/provision/ca/*.crt /usr/local/share/ca-certificates/",
    "  update-ca-certificates >/dev/null 2>&1 || true",
    "  # pip in a virtualenv trusts its own bundle, not the system's, unless told.",
    '  printf "[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n" >/etc/pip.conf',
    "fi",
    "PROVISION",
    '  rm -rf "$stage"',
    '  touch "$DIR/provisioned"',
    "fi",
    'rm -f "$DIR/slirp.sock"',
    "# bash stays PID 1 of the namespace; the machine and its forwarder run as its children, so",
    "# killing the namespace ends it all.",
    '"${nspawn[@]}" --boot &',
    "# Its network namespace is that of its init, which systemd-nspawn starts: the first process",
    "# here in another one.",
    'mine=$(readlink /proc/self/ns/net); machine=""',
    "for _ in $(seq 1 500); do",
    "  for p in /proc/[0-9]*; do",
    '    [ "$(readlink "$p/ns/net" 2>/dev/null || echo "$mine")" != "$mine" ] && { machine=${p#/proc/}; break 2; }',
    "  done",
    "  sleep 0.01",
    "done",
    '[ -n "$machine" ] || fail "the local machine $NAME did not start (systemd-nspawn made no network namespace)"',
    "# Its network: outbound through this computer's (DNS included), never to this computer's",
    "# loopback; the ports it serves are forwarded from 127.0.0.1 here, by this process group.",
    'slirp4netns --configure --mtu=65520 --disable-host-loopback --api-socket "$DIR/slirp.sock" "$machine" tap0 >>"$DIR/slirp.log" 2>&1 &',
    "slirp=$!",
    'until [ -S "$DIR/slirp.sock" ]; do',
    '  kill -0 "$slirp" 2>/dev/null || fail "the local machine $NAME got no network: slirp4netns stopped ($(tail -n 1 "$DIR/slirp.log"))"',
    "  sleep 0.01",
    "done",
    "for port in $FORWARDS; do",
    '  reply=$(printf \'{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":%d,"guest_port":%d}}\' "$port" "$port" |',
    '    socat - "UNIX-CONNECT:$DIR/slirp.sock")',
    '  case "$reply" in',
    "    *'\"return\"'*) ;;",
    "    *) fail \"the local machine $NAME cannot listen on 127.0.0.1:$port on this computer: another process holds that port (ss -ltnp 'sport = :$port' shows which); free it, or choose another port\" ;;",
    "  esac",
    "done",
    'touch "$DIR/forwarded"',
    "wait",
    "",
  ].join("\n");
}

/**
 * Creates (or finds running) the machine and prints its connection as one JSON line:
 * `{"host","port","user","privateKey","hostKey"}`. Idempotent: a running machine is left as it
 * is; a stopped one (after the host rebooted) boots again from its own disk.
 */
export function renderMachineUp(spec: LocalMachineSpec): string {
  const boot = renderMachineBoot();
  return [
    ...prelude(spec),
    `PORT=${spec.sshPort}`,
    `FORWARDS=${shQuote([spec.sshPort, ...spec.ports].join(" "))}`,
    `USER_NAME=${shQuote(LOCAL_MACHINE_DEFAULTS.user)}`,
    `UID_BASE=${LOCAL_MACHINE_DEFAULTS.uidBase}`,
    `CACHE=${shQuote(spec.rootfsCache)}`,
    'if [ "$(id -u)" -ne 0 ]; then',
    '  echo "the local machine needs root (debootstrap, mount, systemd-nspawn): run as root, or deploy to an existing host (config host) or a new EC2 instance (config publicKey); see the README" >&2',
    "  exit 1",
    "fi",
    "missing=()",
    `for tool in ${LOCAL_MACHINE_NEEDS.map((n) => shQuote(`${n.command}:${n.debianPackage}`)).join(" ")}; do`,
    '  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")',
    "done",
    'if [ "${#missing[@]}" -gt 0 ]; then',
    "  # Deduplicated: two commands may come from one package.",
    '  mapfile -t missing < <(printf "%s\\n" "${missing[@]}" | sort -u)',
    '  echo "the local machine needs these Debian packages on this computer: apt-get install -y ${missing[*]} (npm run up installs them itself as root)" >&2',
    "  exit 1",
    "fi",
    "build_rootfs() {",
    // nginx and openssl: the stack puts nginx in front (no apt-get at the first up).
    `  bash -c ${shQuote(BUILD_ROOTFS)} build-rootfs "$CACHE" nginx,openssl "$UID_BASE"`,
    "}",
    "# A machine made before it had a pinned host key and a user namespace: its disk is owned",
    "# by this computer's root. It cannot be taken over; it is made anew.",
    'if [ -f "$DIR/provisioned" ] && [ ! -f "$DIR/ssh_host_ed25519_key" ]; then',
    '  echo "the local machine $NAME was made by an older version (no pinned host key, no user namespace): destroy it (pulumi destroy, or npm run down) and run up again" >&2',
    "  exit 1",
    "fi",
    'mkdir -p "$DIR"',
    'chmod 0700 "$DIR"',
    'if [ ! -f "$DIR/id_ed25519" ]; then ssh-keygen -q -t ed25519 -N "" -C "$NAME" -f "$DIR/id_ed25519"; fi',
    "# Its host key, made here before it first boots; the known_hosts every ssh to it checks.",
    'if [ ! -f "$DIR/ssh_host_ed25519_key" ]; then',
    '  ssh-keygen -q -t ed25519 -N "" -C "$NAME" -f "$DIR/ssh_host_ed25519_key"',
    "fi",
    'printf "[127.0.0.1]:%s %s\\n" "$PORT" "$(cut -d " " -f 1,2 "$DIR/ssh_host_ed25519_key.pub")" >"$DIR/known_hosts"',
    "if ! running; then",
    "  rootfs=$(build_rootfs | tail -n 1)",
    "  # shellcheck disable=SC2016 # the boot script is written as is, expanded when it runs",
    `  printf '%s' ${shQuote(boot)} > "$DIR/boot.sh"`,
    '  echo "booting the local machine $NAME (sshd on 127.0.0.1:$PORT)" >&2',
    '  rm -f "$DIR/forwarded" "$DIR/boot.err"',
    "  setsid unshare --mount --pid --fork --mount-proc --propagation private --kill-child=SIGKILL \\",
    '    bash "$DIR/boot.sh" "$DIR" "$rootfs" "$PORT" "$USER_NAME" "$NAME" "$UID_BASE" "$FORWARDS" </dev/null >>"$DIR/console.log" 2>&1 &',
    '  echo "$!" > "$DIR/pid"',
    "fi",
    "did_not_boot() {",
    '  if [ -s "$DIR/boot.err" ]; then cat "$DIR/boot.err" >&2; else echo "the local machine $NAME did not boot; its console:" >&2; tail -n 30 "$DIR/console.log" >&2; fi',
    "  exit 1",
    "}",
    "# Its ports are forwarded (or the boot failed, saying why) before ssh tries it.",
    'for _ in $(seq 1 300); do [ -f "$DIR/forwarded" ] && break; running || did_not_boot; sleep 0.1; done',
    "# Up when systemd has finished booting, as seen over SSH; the host key is the pinned one.",
    "ssh_machine() {",
    '  ssh -i "$DIR/id_ed25519" -p "$PORT" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$DIR/known_hosts" \\',
    "    -o GlobalKnownHostsFile=/dev/null -o HostKeyAlgorithms=ssh-ed25519 \\",
    '    -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "$USER_NAME@127.0.0.1" "$@"',
    "}",
    'state=""',
    "for _ in $(seq 1 120); do",
    '  state=$(ssh_machine "systemctl is-system-running --wait" 2>/dev/null || true)',
    '  case "$state" in running | degraded) break ;; esac',
    "  running || did_not_boot",
    "  sleep 1",
    "done",
    'case "$state" in running | degraded) ;; *)',
    '  echo "the local machine $NAME did not finish booting in 2 minutes ($state); its console:" >&2',
    '  tail -n 30 "$DIR/console.log" >&2',
    "  exit 1 ;;",
    "esac",
    "# Node runs the stack program, so it is there to write the JSON.",
    'PORT="$PORT" USER_NAME="$USER_NAME" KEY="$DIR/id_ed25519" HOST_KEY="$DIR/ssh_host_ed25519_key.pub" node -e \'const fs = require("fs"); process.stdout.write(JSON.stringify({ host: "127.0.0.1", port: Number(process.env.PORT), user: process.env.USER_NAME, privateKey: fs.readFileSync(process.env.KEY, "utf8"), hostKey: fs.readFileSync(process.env.HOST_KEY, "utf8").trim() }) + "\\n")\'',
    "",
  ].join("\n");
}

/**
 * Stops the machine (every process in it, its forwarder too) and removes its directory (its
 * disk, its keys) and its control groups. The cached root file system stays for the next
 * machine.
 */
export function renderMachineDown(spec: LocalMachineSpec): string {
  return [
    ...prelude(spec),
    "if running; then",
    '  pid=$(cat "$DIR/pid")',
    '  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"',
    '  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done',
    "fi",
    "# Its control groups, deepest first (systemd in the machine made its own below).",
    "for h in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do",
    '  [ -d "$h/gunicorn-upstart-machines/$NAME" ] || continue',
    '  find "$h/gunicorn-upstart-machines/$NAME" -depth -type d -exec rmdir {} + 2>/dev/null || true',
    "done",
    'rm -rf -- "$DIR"',
    'echo "the local machine $NAME is gone"',
    "",
  ].join("\n");
}
