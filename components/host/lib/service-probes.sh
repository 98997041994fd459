# shellcheck shell=bash
# What the lifecycle knows of the running service: its master's workers, who holds the bind
# port, and what the health path answers. Needs READY_SOCKET, READY_HOST, READY_PORT,
# HEALTH_PATH and HEALTH_HOST.
worker_pids() {
  if [ -n "$1" ]; then
    { ps -o pid= --ppid "$1" 2>/dev/null || true; } | tr -d " " | sort -n | tr "\n" " "
  fi
}
# PIDs holding the bind port, one per line; none for a unix socket. From /proc, which every
# Linux host has (ss is not on a minimal Debian): the listening sockets' inodes on the port,
# then the processes with one of them open.
port_holders() {
  local hex
  if [ -z "$READY_PORT" ]; then return 0; fi
  hex=$(printf "%04X" "$READY_PORT")
  # Processes come and go while find reads /proc: its complaints are expected.
  { awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || true; } |
    sort -u | while read -r inode; do
      { find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null || true; } | cut -d / -f 3
    done | sort -un
}
describe_holders() {
  local pid
  for pid in "$@"; do
    echo "  pid $pid, user $(ps -o user= -p "$pid" 2>/dev/null || echo "?"): $(ps -o args= -p "$pid" 2>/dev/null | cut -c 1-200)"
  done
}
# The port's holders that are neither master $1 nor one of its children: a health answer
# from another process on the port is not our service serving. By parent, not by a list
# of workers taken earlier: a reload starts new workers at any moment. A holder that is
# gone by the time it is looked at was one of the old workers leaving.
foreign_holders() {
  local pid ppid
  for pid in $(port_holders); do
    [ "$pid" = "$1" ] && continue
    ppid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d " ") || continue
    [ -z "$ppid" ] || [ "$ppid" = "$1" ] || echo "$pid"
  done
}
# The HTTP status of the health path, empty when nothing answers. bash's /dev/tcp needs no
# client on the host; a unix socket bind can only be checked for existence.
health_status() {
  if [ -n "$READY_SOCKET" ]; then
    [ -S "$READY_SOCKET" ] && echo 200
    return 0
  fi
  local line=''
  if exec 3<>"/dev/tcp/$READY_HOST/$READY_PORT"; then
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: gunicorn-upstart health gate\r\n\r\n" "$HEALTH_PATH" "${HEALTH_HOST:-$READY_HOST}" >&3
    IFS=' ' read -r -t 10 _ line _ <&3 || true
    exec 3<&-
  fi 2>/dev/null
  echo "$line"
}
