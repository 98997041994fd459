# shellcheck shell=bash
# nginx for the site scripts (nginx-apply.sh, nginx-remove.sh): sbin on PATH, root's lock on
# the host's nginx, and whether it runs and how it reloads. nginx is driven through systemd
# where systemd runs, else directly (Ubuntu 14.04's nginx is a SysV service, and a test host
# without an init has nothing else to drive it).
PATH="$PATH:/usr/sbin:/sbin"
# One change to the host's nginx at a time: the engine runs two services' site steps at
# once (two deletes on destroy), and a reload that reads another site half removed (its key
# gone, its file not yet) fails. Root's lock, in a directory only root can change.
mkdir -p /var/lib/gunicorn-upstart
exec 5>>/var/lib/gunicorn-upstart/nginx.lock
flock 5
# Is nginx running? Through systemd where it is the init, else by its pid file.
under_systemd() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}
nginx_running() {
  if under_systemd; then
    systemctl is-active --quiet nginx
  else
    [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null
  fi
}
# A graceful reload: new workers with the new sites, old ones finish their requests. A
# stopped nginx is started (without the step runner's channels or the lock: nginx would
# hold them, and the SSH session or the lock, open).
nginx_reload() {
  if under_systemd; then
    systemctl enable nginx >/dev/null 2>&1 || true
    systemctl reload-or-restart nginx
  elif nginx_running; then
    nginx -s reload
  else
    nginx 5>&- 6>&- 7>&- 8>&-
  fi
}
