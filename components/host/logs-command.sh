#!/bin/bash
# `<job>-logs`: the logs of the service and of everything it runs beside the web, by name:
#   <job>-logs [-f] [-n LINES] [--since TIME] [NAME...]
# NAME is `web` (Gunicorn's error and access logs), a process (`worker`) or a scheduled job;
# none means all of them. -f follows them; -n shows the last LINES of each (default 20); --since
# shows what was written after TIME (anything `date -d` reads: "10 min ago", "2026-12-06 14:00").
# Gunicorn's logs are files; the processes' and scheduled jobs' are files where the init keeps
# no journal (PROCESS_LOGS, SCHEDULE_LOGS), else their units' journal. Root sees all of them;
# anyone else what they may read, and is told what was left out.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
#
# Parameters (filled in by components/render/logsCommand.ts):
#   JOB             the service's job (unit)
#   WEB_LOGS        Gunicorn's log files
#   PROCESSES       the names of the processes beside the web
#   PROCESS_LOGS    each process's log file (in PROCESSES' order), or empty: its unit's journal
#   SCHEDULES       the names of the scheduled jobs
#   SCHEDULE_LOGS   each scheduled job's log file (in SCHEDULES' order), or empty: the journal
# @params
JOB=example
WEB_LOGS=(/var/log/example/gunicorn.log)
PROCESSES=(worker)
PROCESS_LOGS=('')
SCHEDULES=(clearsessions)
SCHEDULE_LOGS=('')
# @end-params
set -euo pipefail
# (Arrays are expanded as ${a[@]+"${a[@]}"}: bash before 4.4, Ubuntu 14.04's, calls an empty
# one unbound under set -u.)
me=$(basename "$0")
usage() {
  echo "usage: $me [-f] [-n LINES] [--since TIME] [NAME...]; names: web ${PROCESSES[*]-} ${SCHEDULES[*]-}"
}
follow='' lines=20 since='' names=()
while [ $# -gt 0 ]; do
  case $1 in
    -f | --follow) follow=1 ;;
    -n | --lines)
      if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
        usage >&2
        exit 2
      fi
      lines=$2
      shift
      ;;
    --since)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      since=$2
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "$me: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) names+=("$1") ;;
  esac
  shift
done
if [ "${#names[@]}" -eq 0 ]; then names=(web ${PROCESSES[@]+"${PROCESSES[@]}"} ${SCHEDULES[@]+"${SCHEDULES[@]}"}); fi
since_stamp=''
if [ -n "$since" ]; then
  if ! since_stamp=$(date -d "$since" '+%Y-%m-%d %H:%M:%S' 2>/dev/null); then
    echo "$me: --since $since: not a time date(1) reads" >&2
    exit 2
  fi
fi

files=() units=()
for name in ${names[@]+"${names[@]}"}; do
  found=''
  if [ "$name" = web ]; then
    files+=("${WEB_LOGS[@]}")
    found=1
  fi
  for i in ${PROCESSES[@]+"${!PROCESSES[@]}"}; do
    [ "${PROCESSES[i]}" = "$name" ] || continue
    found=1
    if [ -n "${PROCESS_LOGS[i]}" ]; then files+=("${PROCESS_LOGS[i]}"); else units+=("$JOB-$name.service"); fi
  done
  for i in ${SCHEDULES[@]+"${!SCHEDULES[@]}"}; do
    [ "${SCHEDULES[i]}" = "$name" ] || continue
    found=1
    if [ -n "${SCHEDULE_LOGS[i]}" ]; then files+=("${SCHEDULE_LOGS[i]}"); else units+=("$JOB-$name.service"); fi
  done
  if [ -z "$found" ]; then
    echo "$me: no $name here" >&2
    usage >&2
    exit 2
  fi
done

# The files this user may read; what is left out is said (not an error: the rest still shows).
readable=()
for f in ${files[@]+"${files[@]}"}; do
  if [ -r "$f" ]; then
    readable+=("$f")
  elif [ -e "$f" ]; then
    echo "$me: $f: $(id -un) may not read it (sudo $me shows it)" >&2
  fi
done
journal=()
if [ "${#units[@]}" -gt 0 ]; then
  for u in "${units[@]}"; do journal+=(-u "$u"); done
  journal+=(--no-pager -o short-iso)
  if [ -n "$since_stamp" ]; then journal+=(--since "$since_stamp"); fi
fi

# Lines from SINCE on: a line starting with a time (Gunicorn's "[2026-12-06 14:00:00 +0000]",
# Celery's "[2026-12-06 14:00:00,123: ...", the runner's "2026-12-06 14:00:00 ...") decides for
# itself and the lines after it without one (a traceback).
since_filter() {
  if [ -z "$since_stamp" ]; then cat; return; fi
  awk -v since="$since_stamp" '
    match($0, /^\[?[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]/) {
      stamp = substr($0, RSTART, RLENGTH); sub(/^\[/, "", stamp); sub(/T/, " ", stamp)
      keep = (stamp >= since)
    }
    keep { print }'
}

if [ -z "$follow" ]; then
  for f in ${readable[@]+"${readable[@]}"}; do
    echo "==> $f <=="
    since_filter <"$f" | tail -n "$lines"
  done
  if [ "${#units[@]}" -gt 0 ]; then
    echo "==> the journal of ${units[*]} <=="
    journalctl -n "$lines" "${journal[@]}" || true
  fi
  exit 0
fi

# Following: each source in the background, until interrupted.
pids=()
trap 'kill ${pids[@]+"${pids[@]}"} 2>/dev/null || true' EXIT INT TERM
if [ "${#readable[@]}" -gt 0 ]; then
  if [ -n "$since_stamp" ]; then
    for f in "${readable[@]}"; do since_filter <"$f" | tail -n "$lines"; done
    tail -n 0 -F -- "${readable[@]}" &
  else
    tail -n "$lines" -F -- "${readable[@]}" &
  fi
  pids+=($!)
fi
if [ "${#units[@]}" -gt 0 ]; then
  journalctl -f -n "$lines" "${journal[@]}" &
  pids+=($!)
fi
if [ "${#pids[@]}" -eq 0 ]; then
  echo "$me: nothing to follow" >&2
  exit 1
fi
wait
