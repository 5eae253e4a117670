# Shared helpers for tools/docker-env/*.sh (sourced, not executed).
# Convention: human-readable progress goes to stderr; stdout carries only
# machine-readable KEY=VALUE lines (NX_DOCKER_BIN=..., NXDD_STARTED=...) so
# tools/test.mjs and .ci/run can parse them.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="$REPO_ROOT/tmp/docker-env"
mkdir -p "$STATE_DIR"

log() { printf '[docker-env] %s\n' "$*" >&2; }
die() { printf '[docker-env] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

_APT_UPDATED=0
apt_install() {
  can_apt || return 1
  if [ "$_APT_UPDATED" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    _APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Major version of a docker client from `docker --version`
# ("Docker version 20.10.24+dfsg1, build 297e128" -> 20). Empty if unknown.
client_major() {
  "$1" --version 2>/dev/null | sed -n 's/^Docker version \([0-9][0-9]*\)\..*/\1/p'
}

# Prints "<path>\t<why>" for the first docker client that can run BuildKit
# builds: one with the buildx plugin, or a client older than 23 whose classic
# builder has BuildKit built in (DOCKER_BUILDKIT=1). A 23+ client without
# buildx fails with "BuildKit is enabled but the buildx component is missing".
find_buildkit_client() {
  local c seen="" major
  for c in ${NX_DOCKER_BIN:-} "$(command -v docker 2>/dev/null || true)" /usr/bin/docker /usr/local/bin/docker; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    case " $seen " in *" $c "*) continue ;; esac
    seen="$seen $c"
    if "$c" buildx version >/dev/null 2>&1; then
      printf '%s\t%s\n' "$c" "buildx $("$c" buildx version 2>/dev/null | awk '{print $2}')"
      return 0
    fi
    major="$(client_major "$c")"
    if [ -n "$major" ] && [ "$major" -lt 23 ]; then
      printf '%s\t%s\n' "$c" "classic builder with BuildKit (client $("$c" --version | sed -n 's/^Docker version \([^,]*\).*/\1/p'))"
      return 0
    fi
  done
  return 1
}

# Any docker client that reaches a daemon (prints its path).
find_working_client() {
  local c
  for c in /usr/bin/docker "$(command -v docker 2>/dev/null || true)" /usr/local/bin/docker; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if timeout 15 "$c" info >/dev/null 2>&1; then printf '%s\n' "$c"; return 0; fi
  done
  return 1
}

# GET a URL, succeed on 2xx. Uses curl when present, else node (always there).
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 5 -o /dev/null "$1" 2>/dev/null
  else
    node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(5000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1"
  fi
}

# Time since the epoch in milliseconds, for phase timings.
now_ms() { date +%s%3N; }
fmt_ms() { awk -v ms="$1" 'BEGIN { printf "%.1fs", ms / 1000 }'; }
