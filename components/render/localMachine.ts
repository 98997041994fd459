/**
 * The local machine's scripts, pure: a Debian bookworm system booted with `systemd-nspawn`
 * on the machine where `pulumi up` runs, with its own root file system (a copy-on-write
 * overlay of a cached tree), real systemd as PID 1, and sshd on 127.0.0.1:<port>. It shares
 * the host's network, so what it serves on a port is on the host's loopback too. It needs
 * root (debootstrap, mounts, systemd-nspawn).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shQuote } from "../shell";
import { checkInt, checkName, SpecError } from "../spec";

/** A local machine. */
export interface LocalMachineSpec {
  /** Its name: letters, digits, `-`; names its directory and the container. */
  name: string;
  /** The port its sshd listens on, on 127.0.0.1. */
  sshPort: number;
  /** Where the machine's own files live (its disk, key, PID): `<stateDir>/<name>`. */
  stateDir: string;
  /** Where the built root file system is cached (shared by every machine). */
  rootfsCache: string;
}

export const LOCAL_MACHINE_DEFAULTS = {
  sshPort: 2222,
  stateDir: "/var/lib/gunicorn-upstart/machines",
  rootfsCache: "/var/cache/gunicorn-upstart/rootfs",
  /** The user the stack connects as: passwordless sudo, like a cloud image's. */
  user: "deploy",
} as const;

/** Validates a machine's settings; errors name the field. */
export function checkLocalMachine(raw: {
  name: unknown;
  sshPort?: unknown;
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
  return {
    name,
    sshPort: checkInt("sshPort", raw.sshPort ?? LOCAL_MACHINE_DEFAULTS.sshPort, 1, 65535),
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
 * Creates (or finds running) the machine and prints its connection as one JSON line:
 * `{"host","port","user","privateKey"}`. Idempotent: a running machine is left as it is; a
 * stopped one (after the host rebooted) boots again from its own disk.
 */
export function renderMachineUp(spec: LocalMachineSpec): string {
  const boot = [
    "set -euo pipefail",
    "DIR=$1; ROOTFS=$2; PORT=$3; USER_NAME=$4; NAME=$5",
    'root="$DIR/root"',
    'mkdir -p "$DIR/upper" "$DIR/work" "$root"',
    'mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$DIR/upper,workdir=$DIR/work" "$root"',
    "# Host root acts on the machine's disk once, before the machine has ever run: after that,",
    "# root inside it (the deploy user has sudo there) could have planted symlinks or replaced",
    "# the programs chroot would run. The marker is outside the machine's disk for that reason.",
    'if [ ! -f "$DIR/provisioned" ]; then',
    '  chroot "$root" useradd --create-home --shell /bin/bash "$USER_NAME"',
    '  chroot "$root" usermod -p "*" "$USER_NAME"',
    '  install -d -m 0700 "$root/home/$USER_NAME/.ssh"',
    '  install -m 0600 "$DIR/id_ed25519.pub" "$root/home/$USER_NAME/.ssh/authorized_keys"',
    '  chroot "$root" chown -R "$USER_NAME:$USER_NAME" "/home/$USER_NAME/.ssh"',
    '  echo "$USER_NAME ALL=(ALL) NOPASSWD:ALL" > "$root/etc/sudoers.d/$USER_NAME"',
    '  chmod 0440 "$root/etc/sudoers.d/$USER_NAME"',
    '  mkdir -p "$root/etc/ssh/sshd_config.d"',
    '  printf "Port %s\\nListenAddress 127.0.0.1\\nPasswordAuthentication no\\nKbdInteractiveAuthentication no\\n" "$PORT" > "$root/etc/ssh/sshd_config.d/local-machine.conf"',
    '  echo "127.0.0.1 $(hostname)" >> "$root/etc/hosts"',
    "  # The certificate authorities this computer added (a company proxy's, say) are trusted",
    "  # in the machine too, so pip and apt-get work there as they do here; pip in a",
    "  # virtualenv trusts its own bundle, not the system's, unless told.",
    '  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then',
    '    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"',
    '    chroot "$root" update-ca-certificates >/dev/null 2>&1 || true',
    '    printf "[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n" > "$root/etc/pip.conf"',
    "  fi",
    '  touch "$DIR/provisioned"',
    "fi",
    "# bash stays PID 1 of the namespace; the machine runs as its child, so killing the",
    "# namespace ends it all.",
    'systemd-nspawn -q -D "$root" -M "gunicorn-upstart-$NAME" --boot --register=no --keep-unit &',
    "wait",
  ].join("\n");
  return [
    ...prelude(spec),
    `PORT=${spec.sshPort}`,
    `USER_NAME=${shQuote(LOCAL_MACHINE_DEFAULTS.user)}`,
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
    `  bash -c ${shQuote(BUILD_ROOTFS)} build-rootfs "$CACHE" nginx,openssl`,
    "}",
    'mkdir -p "$DIR"',
    'chmod 0700 "$DIR"',
    'if [ ! -f "$DIR/id_ed25519" ]; then ssh-keygen -q -t ed25519 -N "" -C "$NAME" -f "$DIR/id_ed25519"; fi',
    "if ! running; then",
    "  rootfs=$(build_rootfs | tail -n 1)",
    "  # shellcheck disable=SC2016 # the boot script is written as is, expanded when it runs",
    `  printf '%s\\n' ${shQuote(boot)} > "$DIR/boot.sh"`,
    '  echo "booting the local machine $NAME (sshd on 127.0.0.1:$PORT)" >&2',
    "  setsid unshare --mount --pid --fork --mount-proc --propagation private --kill-child=SIGKILL \\",
    '    bash "$DIR/boot.sh" "$DIR" "$rootfs" "$PORT" "$USER_NAME" "$NAME" </dev/null >>"$DIR/console.log" 2>&1 &',
    '  echo "$!" > "$DIR/pid"',
    "fi",
    "# Up when systemd has finished booting, as seen over SSH.",
    "ssh_machine() {",
    '  ssh -i "$DIR/id_ed25519" -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \\',
    '    -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "$USER_NAME@127.0.0.1" "$@"',
    "}",
    "for _ in $(seq 1 120); do",
    '  state=$(ssh_machine "systemctl is-system-running --wait" 2>/dev/null || true)',
    '  case "$state" in running | degraded) break ;; esac',
    '  running || { echo "the local machine $NAME did not boot; its console:" >&2; tail -n 30 "$DIR/console.log" >&2; exit 1; }',
    "  sleep 1",
    "done",
    'case "$state" in running | degraded) ;; *)',
    '  echo "the local machine $NAME did not finish booting in 2 minutes ($state); its console:" >&2',
    '  tail -n 30 "$DIR/console.log" >&2',
    "  exit 1 ;;",
    "esac",
    "# Node runs the stack program, so it is there to write the JSON.",
    'PORT="$PORT" USER_NAME="$USER_NAME" KEY="$DIR/id_ed25519" node -e \'process.stdout.write(JSON.stringify({ host: "127.0.0.1", port: Number(process.env.PORT), user: process.env.USER_NAME, privateKey: require("fs").readFileSync(process.env.KEY, "utf8") }) + "\\n")\'',
    "",
  ].join("\n");
}

/**
 * Stops the machine (every process in it) and removes its directory: its disk, its key. The
 * cached root file system stays for the next machine.
 */
export function renderMachineDown(spec: LocalMachineSpec): string {
  return [
    ...prelude(spec),
    "if running; then",
    '  pid=$(cat "$DIR/pid")',
    '  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"',
    '  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done',
    "fi",
    'rm -rf -- "$DIR"',
    'echo "the local machine $NAME is gone"',
    "",
  ].join("\n");
}
