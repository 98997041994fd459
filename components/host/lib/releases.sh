# shellcheck shell=bash
# App releases: switching `current`, the pre-flight import of a new release
# (release-preflight.py as the app user), its tasks, and pruning old releases. Needs APP_ROOT,
# CURRENT, KEEP_RELEASES, VIRTUALENV, CONFIG, WSGI_MODULE and PREFLIGHT.
switch_release() {
  ln -sfn -- "$1" "$CURRENT.switch"
  mv -T -- "$CURRENT.switch" "$CURRENT"
}
preflight() {
  if ! as_app_user "$VIRTUALENV/bin/python" -c "$PREFLIGHT" "$CONFIG" "$1" "$WSGI_MODULE" >&2; then
    fail "release $(basename -- "$1") fails to import $WSGI_MODULE; the running release stays"
  fi
}
# shellcheck source=lib/release-tasks.sh
. lib/release-tasks.sh
# Keeps the newest KEEP_RELEASES releases, and always the current and previous ones.
# Newest first by modification time, which a switch refreshes (touch): last use.
prune_releases() {
  local keep=$1 n=0 dir name
  while IFS= read -r dir; do
    name=$(basename -- "$dir")
    n=$((n + 1))
    if [ "$n" -le "$KEEP_RELEASES" ] || [ "releases/$name" = "$keep" ] || [ "releases/$name" = "$(readlink -- "$CURRENT")" ]; then
      continue
    fi
    rm -rf -- "$dir"
  done < <(find "$APP_ROOT/releases" -mindepth 1 -maxdepth 1 -type d ! -name ".*" -printf "%T@ %p\n" | sort -rn | cut -d " " -f 2-)
}
