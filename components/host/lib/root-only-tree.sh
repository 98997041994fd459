# shellcheck shell=bash
# root_only_tree DIR: root_only_dir for DIR, and everything in it root's and not writable by
# group or others too — for code root runs (a virtualenv, a project a root master imports): a
# root-owned virtualenv whose bin/ is the app user's would still run the app user's bin/python
# as root. Prints the first offender and fails.
# shellcheck source=lib/root-only-dir.sh
. lib/root-only-dir.sh
root_only_tree() {
  local unsafe other
  unsafe=$(root_only_dir "$1") || { echo "$unsafe"; return 1; }
  [ -e "$1" ] || return 0
  other=$(find "$1/" -xdev \( ! -user root -o \( ! -type l -perm /022 \) \) -print -quit 2>/dev/null || echo "$1 (unreadable)")
  if [ -n "$other" ]; then
    echo "$other (uid $(stat -c %u -- "$other" 2>/dev/null), mode $(stat -c %a -- "$other" 2>/dev/null))"
    return 1
  fi
}
