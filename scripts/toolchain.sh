#!/usr/bin/env bash
# The Pulumi toolchain this project runs on: the CLI, the Node.js language host and the
# command provider (@pulumi/command's plugin), at the versions pinned below.
#
# Finds a `pulumi` CLI on PATH at a compatible version, or else builds the CLI and the
# language host from the Go module proxy with the ordinary `go` commands into a cache
# directory outside the repo (keyed by the pinned versions; nothing built goes into git).
# Language hosts: one found on PATH is used before ours. Ours are the Node.js host below (it runs
# TypeScript programs; it is too old for source-based plugins such as plugin/, which need a
# current one on PATH: docs/programs.md, Prerequisites) and the YAML host, built from the Go
# module proxy when none is on PATH. There is no Python host here but one on PATH: its module
# is not served.
# The command provider, in PULUMI_HOME, is the first of: the plugin already installed; a
# `pulumi-resource-command` on PATH; `pulumi plugin install resource command <version>`
# (Pulumi's plugin downloads, bounded in time); a build from the Go module proxy. A download
# or module refused is not asked for again for a day. Idempotent; safe to run twice at once
# (a lock); a run that finds everything cached only checks and returns.
#
# Prints, on its last line of stdout, the directories to put first on PATH. Progress (which
# binary, elapsed time) goes to stderr; on a failure, the last lines of the Go error and
# what to do.
#
# Exit status: 0 ready; 1 the CLI could not be had; 3 the CLI is ready but a plugin the
# stack needs (the command provider) could not be had: `pulumi` works for config, state and
# programs without commands, not for `up`.
#
# Environment: TOOLCHAIN_QUIET (set: say nothing when all is cached and ready, one line for
# a known missing plugin), GUNICORN_UPSTART_CACHE (default ~/.cache/gunicorn-upstart), PULUMI_HOME
# (default <cache>/pulumi-home), GO (default `go`), TOOLCHAIN_DOWNLOAD_TIMEOUT (seconds the
# plugin download may take, default 60).
set -euo pipefail

# The pinned versions: one place.
PULUMI_VERSION=v3.274.1
# The Node.js language host left `sdk/v3` for a module of its own
# (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) after v3.68; that
# module has no tags, and the Go module proxy reachable here refuses it ("This module version
# is not available.", HTTP 403). v3.68.0 is the newest sdk/v3 release that still carries
# it as a package; the language host's protocol with the CLI is versioned and kept
# compatible, and it only starts @pulumi/pulumi's own `cmd/run` from node_modules.
LANGHOST_SDK_VERSION=v3.68.0
COMMAND_PLUGIN_VERSION=1.2.1
# pulumi-command tag v1.2.1 is commit 7f3eb6f3b77c; its provider submodule has no tags of
# its own, so it is fetched by pseudo-version.
COMMAND_MODULE=github.com/pulumi/pulumi-command/provider
COMMAND_MODULE_VERSION=v0.0.0-20260303235922-7f3eb6f3b77c
MIN_CLI=3.274.0
# The YAML language host (Pulumi YAML programs, examples/yaml). v1.25.0, the proxy's "latest",
# starts Node.js plugins with flags current Node.js language hosts refuse (-root); v1.32.0
# is the newest it serves.
YAML_MODULE=github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
YAML_VERSION=v1.32.0

# shellcheck source=scripts/cache-dir.sh
. "$(dirname "$0")/cache-dir.sh"
toolchain="$cache/toolchain/pulumi-$PULUMI_VERSION-nodejs-$LANGHOST_SDK_VERSION-command-$COMMAND_PLUGIN_VERSION"
bin="$toolchain/bin"
# What the printed PATH starts with: links to the chosen CLI and to those of our language hosts
# PATH has no other of, never $bin itself, so a current host the user installed is not shadowed
# by ours. The links lead into $bin, next to the CLI we build, where the CLI looks for its
# language hosts too: a host found on PATH that resolves there draws no "using ... from $PATH"
# warning.
shim="$toolchain/path"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
go=${GO:-go}
mkdir -p "$bin" "$shim" "$PULUMI_HOME"

say() { printf 'toolchain: %s\n' "$*" >&2; }
started=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }

# `pulumi version` prints v3.x.y; compatible means major 3 and not older than MIN_CLI.
compatible() {
  local v
  v=$("$1" version 2>/dev/null | sed -n 's/^v\{0,1\}\([0-9][0-9.]*\).*/\1/p' | head -n 1)
  [ -n "$v" ] && [ "${v%%.*}" = 3 ] &&
    [ "$(printf '%s\n%s\n' "$MIN_CLI" "$v" | sort -V | head -n 1)" = "$MIN_CLI" ]
}

# Runs one `go` step in a wrapper module, with a progress line every 30 s; on failure, the
# last lines of Go's output and what to do.
go_step() {
  local what=$1 dir=$2 log=$2/build.log
  shift 2
  say "$what ..."
  local step_start=$SECONDS
  (cd "$dir" && "$@") >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $(((SECONDS - step_start) % 30)) -eq 0 ] && [ $((SECONDS - step_start)) -gt 0 ]; then
      say "  still on $what ($((SECONDS - step_start)) s; go: $(tail -n 1 "$log" | cut -c 1-100))"
    fi
  done
  if ! wait "$pid"; then
    say "$what failed after $((SECONDS - step_start)) s; the last lines of Go's output:"
    tail -n 15 "$log" | sed 's/^/  | /' >&2
    return 1
  fi
  say "$what: done in $((SECONDS - step_start)) s"
}

# A wrapper module of our own: building a main package from inside it ignores the `replace`
# lines of pulumi's pkg/go.mod, which make `go install pkg@version` refuse.
wrapper() {
  local dir=$1 module=$2 pkg=$3
  shift 3
  mkdir -p "$dir"
  if [ ! -f "$dir/go.mod" ]; then
    (cd "$dir" && "$go" mod init "$module" >/dev/null 2>&1)
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$dir/tools.go"
  fi
}

ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"

build_cli() {
  local dir="$toolchain/src/cli" pkg=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  wrapper "$dir" gunicorn-upstart/toolchain/cli "$pkg"
  go_step "building the Pulumi CLI $PULUMI_VERSION (cold: about 7 min on 2 cores)" "$dir" \
    sh -c "$go get github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION &&
           $go mod tidy && $go build -v -trimpath -ldflags '$ldflags' -o '$bin/pulumi.tmp' $pkg"
  mv -f "$bin/pulumi.tmp" "$bin/pulumi"
}

build_langhost() {
  local dir="$toolchain/src/nodejs" pkg=github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  wrapper "$dir" gunicorn-upstart/toolchain/nodejs "$pkg"
  go_step "building the Node.js language host (sdk $LANGHOST_SDK_VERSION)" "$dir" \
    sh -c "$go get github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK_VERSION && $go mod tidy &&
           $go build -trimpath -o '$bin/pulumi-language-nodejs.tmp' $pkg" || return 1
  mv -f "$bin/pulumi-language-nodejs.tmp" "$bin/pulumi-language-nodejs" || return 1
  # What the language host runs for a dynamic provider, as the CLI's own distribution has it.
  printf '#!/bin/sh\nexec node ./node_modules/@pulumi/pulumi/cmd/dynamic-provider "$@"\n' \
    >"$bin/pulumi-resource-pulumi-nodejs"
  chmod 0755 "$bin/pulumi-resource-pulumi-nodejs"
}

# The YAML language host, from the Go module proxy; a refusal is remembered as the provider's is.
build_yaml_langhost() {
  local dir="$toolchain/src/yaml" refused="$toolchain/src/yaml/refused"
  mkdir -p "$dir"
  if refused_today "$refused"; then
    [ -n "${TOOLCHAIN_QUIET:-}" ] || say "the Go module proxy refused $YAML_MODULE@$YAML_VERSION earlier today (delete $refused to ask again)"
    return 2
  fi
  command -v "$go" >/dev/null 2>&1 || {
    say "no Go to build the YAML language host with"
    return 1
  }
  if ! go_step "building the YAML language host $YAML_VERSION (Pulumi YAML programs)" "$dir" \
    env GOBIN="$dir/bin" "$go" install "$YAML_MODULE@$YAML_VERSION"; then
    remember_refusal "$dir/build.log" "$refused"
    return 1
  fi
  install -m 0755 "$dir/bin/pulumi-language-yaml" "$bin/pulumi-language-yaml" || return 1
  echo "$YAML_VERSION" >"$bin/pulumi-language-yaml.version"
}

command_plugin_installed() {
  "$1" plugin ls 2>/dev/null | awk '$1 == "command" && $2 == "resource" && $3 == "'"$COMMAND_PLUGIN_VERSION"'" { ok = 1 } END { exit !ok }'
}

# A refusal is remembered in a file for a day: every `npm run pulumi` runs this script, and
# a refusal is final for the server that gave it. Delete the file to ask again sooner.
refused_today() { [ -n "$(find "$1" -mmin -1440 2>/dev/null)" ]; }

# A Go build's failure is remembered only when it is the proxy's refusal (its last lines, in
# the refusal file); a dropped connection is tried again next run.
remember_refusal() {
  if grep -q 'not available\|403\|404\|410' "$1"; then tail -n 3 "$1" >"$2"; fi
}

# Each way of getting the provider returns 0 when it has it, 1 when it failed now or was
# refused earlier today (said on stderr), 2 when it was refused earlier today and
# TOOLCHAIN_QUIET is set (said nothing).
remembered_refusal() {
  local what=$1 refused=$2
  [ -z "${TOOLCHAIN_QUIET:-}" ] || return 2
  say "$what refused the command provider $COMMAND_PLUGIN_VERSION earlier today (delete $refused to ask again):"
  sed 's/^/  | /' "$refused" >&2
  return 1
}

# Where Pulumi's plugin downloads work: `pulumi plugin install`, the release Pulumi publishes.
# Bounded by TOOLCHAIN_DOWNLOAD_TIMEOUT, so a network that drops the connection costs that
# once a day, not every run.
download_command_plugin() {
  local dir="$toolchain/src/command" refused="$toolchain/src/command/download-refused"
  local log="$toolchain/src/command/download.log" limit=${TOOLCHAIN_DOWNLOAD_TIMEOUT:-60} code=0
  mkdir -p "$dir"
  if refused_today "$refused"; then
    remembered_refusal "Pulumi's plugin downloads" "$refused"
    return
  fi
  say "downloading the command provider $COMMAND_PLUGIN_VERSION: pulumi plugin install resource command $COMMAND_PLUGIN_VERSION (at most $limit s) ..."
  env -u PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION \
    timeout "$limit" "$cli" plugin install resource command "$COMMAND_PLUGIN_VERSION" >"$log" 2>&1 || code=$?
  if [ "$code" = 0 ] && command_plugin_installed "$cli"; then
    say "downloaded and installed the command provider $COMMAND_PLUGIN_VERSION"
    return 0
  fi
  [ "$code" != 124 ] || echo "no answer in $limit s (timeout)" >>"$log"
  say "the download failed (not tried again until tomorrow: $refused):"
  { grep -E '^(warning|error): ' "$log" || tail -n 3 "$log"; } | tail -n 2 | tee "$refused" | sed 's/^/  | /' >&2
  return 1
}

# Building it from the Go module proxy.
build_command_plugin() {
  local dir="$toolchain/src/command" refused="$toolchain/src/command/refused"
  mkdir -p "$dir"
  if refused_today "$refused"; then
    remembered_refusal "the Go module proxy ($COMMAND_MODULE@$COMMAND_MODULE_VERSION)" "$refused"
    return
  fi
  if ! go_step "building the command provider $COMMAND_PLUGIN_VERSION" "$dir" \
    env GOBIN="$dir/bin" "$go" install "$COMMAND_MODULE/cmd/pulumi-resource-command@$COMMAND_MODULE_VERSION"; then
    remember_refusal "$dir/build.log" "$refused"
    return 1
  fi
  "$cli" plugin install resource command "$COMMAND_PLUGIN_VERSION" --file "$dir/bin/pulumi-resource-command" >&2
}

exec 9>"$cache/toolchain.lock"
if ! flock -n 9; then
  say "another run is building the toolchain; waiting for it"
  flock 9
fi

status=0
cli=""
if command -v pulumi >/dev/null 2>&1 && [ "$(command -v pulumi)" != "$bin/pulumi" ] &&
  compatible "$(command -v pulumi)"; then
  cli=$(command -v pulumi)
  say "using $cli ($("$cli" version))"
elif [ -x "$bin/pulumi" ] && compatible "$bin/pulumi"; then
  cli="$bin/pulumi"
else
  command -v "$go" >/dev/null 2>&1 || {
    say "no Pulumi CLI $MIN_CLI or newer on PATH, and no Go to build one: install Go (1.26) or the Pulumi CLI"
    exit 1
  }
  build_cli || {
    say "could not build the Pulumi CLI: check that the Go module proxy is reachable ($("$go" env GOPROXY)), or install the Pulumi CLI and put it on PATH"
    exit 1
  }
  cli="$bin/pulumi"
fi

# A language host on PATH that is not ours: every PATH entry is looked at, not only the first
# match, since PATH may already hold our directories (a run inside `npm run pulumi`).
on_path() {
  local dir
  local -a dirs
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    case "$dir" in "" | "$bin" | "$shim") continue ;; esac
    if [ -x "$dir/$1" ]; then
      found_at=$dir/$1
      return 0
    fi
  done
  return 1
}
wanted=(pulumi)
if on_path pulumi-language-nodejs; then
  [ -n "${TOOLCHAIN_QUIET:-}" ] || say "using the Node.js language host on PATH: $found_at"
else
  if [ -x "$bin/pulumi-language-nodejs" ] || build_langhost; then
    wanted+=(pulumi-language-nodejs pulumi-resource-pulumi-nodejs)
  else
    say "could not build the Node.js language host: \`npm run pulumi -- preview/up\` of index.ts will not start"
    status=3
  fi
fi
if on_path pulumi-language-yaml; then
  [ -n "${TOOLCHAIN_QUIET:-}" ] || say "using the YAML language host on PATH: $found_at"
elif { [ -x "$bin/pulumi-language-yaml" ] &&
  [ "$(cat "$bin/pulumi-language-yaml.version" 2>/dev/null)" = "$YAML_VERSION" ]; } ||
  build_yaml_langhost; then
  wanted+=(pulumi-language-yaml)
elif [ $? = 1 ] || [ -z "${TOOLCHAIN_QUIET:-}" ]; then
  say "no YAML language host: Pulumi YAML programs (examples/yaml) will not run; TypeScript ones do"
fi
# The links: each one wanted, to the chosen CLI or into $bin; nothing else.
for link in "$shim"/*; do
  [ -L "$link" ] || continue
  case " ${wanted[*]} " in *" $(basename "$link") "*) ;; *) rm -f "$link" ;; esac
done
for name in "${wanted[@]}"; do
  if [ "$name" = pulumi ]; then target=$cli; else target=$bin/$name; fi
  [ "$(readlink "$shim/$name" 2>/dev/null)" = "$target" ] || ln -sfn "$target" "$shim/$name"
done

# The command provider, first found first: already installed; a pulumi-resource-command on
# PATH; Pulumi's plugin downloads; a build from the Go module proxy.
if ! command_plugin_installed "$cli"; then
  if command -v pulumi-resource-command >/dev/null 2>&1; then
    "$cli" plugin install resource command "$COMMAND_PLUGIN_VERSION" --file "$(command -v pulumi-resource-command)" >&2
  else
    downloaded=0 built=0
    download_command_plugin || downloaded=$?
    if [ "$downloaded" != 0 ]; then build_command_plugin || built=$?; fi
    if [ "$downloaded" = 2 ] && [ "$built" = 2 ]; then
      say "no command provider $COMMAND_PLUGIN_VERSION: \`pulumi preview\` and \`up\` of this stack cannot run (\`npm run toolchain\` says why)"
      status=3
    elif [ "$downloaded" != 0 ] && [ "$built" != 0 ]; then
      say "the command provider $COMMAND_PLUGIN_VERSION is not installed: Pulumi's plugin downloads and the Go module proxy ($COMMAND_MODULE@$COMMAND_MODULE_VERSION) both failed."
      say "Every resource of this stack is a @pulumi/command Command, so \`pulumi up\` needs it. Either:"
      say "  - where the Pulumi plugin downloads work: $cli plugin install resource command $COMMAND_PLUGIN_VERSION (PULUMI_HOME=$PULUMI_HOME)"
      say "  - or put a pulumi-resource-command $COMMAND_PLUGIN_VERSION binary on PATH and run this again."
      status=3
    fi
  fi
fi

if [ -z "${TOOLCHAIN_QUIET:-}" ] || [ "$SECONDS" -ge 5 ] || [ "$status" != 0 ]; then
  say "ready in $(elapsed): $("$cli" version) at $cli$([ "$status" = 0 ] || echo ' (incomplete, see above)')"
fi
# The links first; then the chosen CLI's own directory when it is not ours (never $bin, whose
# hosts could shadow the user's).
if [ "$cli" = "$bin/pulumi" ]; then printf '%s\n' "$shim"; else printf '%s:%s\n' "$shim" "$(dirname "$cli")"; fi
exit "$status"
