# shellcheck shell=bash
# root_only_dir DIR: succeeds when root alone can change what DIR's path leads to; otherwise
# prints the first directory another user can change and fails. Root writes, chowns and chmods
# files by name; in a directory another user can write, that user swaps a name for a link
# between two steps and root acts on a file of their choosing. So every directory from / to the
# nearest existing ancestor of DIR, on the path as given and with links resolved, must be root's
# and not writable by group or others, and no link on the way may be another user's. A sticky
# directory is fine above an existing entry (others cannot rename root's entries there), but
# not as the directory where a missing part of DIR is still to be made: there anyone could make
# that name first, as a link (/tmp/x planted before root's `mkdir -p /tmp/x/y`).
root_only_dir() {
  local existing=$1 start p owner mode strict to_make=''
  # A dangling link is not a missing part: where it leads is checked (and refused).
  while [ ! -e "$existing" ] && [ ! -L "$existing" ]; do existing=$(dirname -- "$existing"); to_make=1; done
  for start in "$existing" "$(readlink -f -- "$existing")"; do
    p=$start
    strict=$to_make
    while :; do
      read -r owner mode < <(stat -L -c '%u %a' -- "$p")
      if [ "$owner" != 0 ] || { (( 8#$mode & 8#022 )) && { [ -n "$strict" ] || ! (( 8#$mode & 8#1000 )); }; }; then
        echo "$p (uid $owner, mode $mode)"
        return 1
      fi
      # A link another user made leads wherever that user likes (in a sticky directory too).
      if [ -L "$p" ] && [ "$(stat -c %u -- "$p")" != 0 ]; then
        echo "$p (a link of uid $(stat -c %u -- "$p"))"
        return 1
      fi
      strict=''
      [ "$p" = / ] && break
      p=$(dirname -- "$p")
    done
  done
}
