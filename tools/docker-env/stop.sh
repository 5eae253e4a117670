#!/usr/bin/env bash
# Stop what ensure-docker.sh / ensure-registry.sh started, found through their
# pid files in tmp/docker-env/. Never touches a daemon or registry started otherwise.
# Usage: stop.sh [registry | registry:<port>] [dockerd]     (default: all of them)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid_file() { # $1 = name, $2 = pid file, $3 = grace seconds
  local pid
  [ -f "$2" ] || { log "$1: no pid file, nothing to stop"; return 0; }
  pid="$(cat "$2")"
  if pid_alive "$pid"; then
    log "$1: stopping pid $pid"
    kill "$pid"
    for _ in $(seq 1 $(($3 * 5))); do pid_alive "$pid" || break; sleep 0.2; done
    if pid_alive "$pid"; then log "$1: pid $pid still alive after ${3}s, sending SIGKILL"; kill -9 "$pid" || true; fi
  else
    log "$1: pid $pid already gone"
  fi
  rm -f "$2"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(registry dockerd)
for t in "${targets[@]}"; do
  case "$t" in
    registry|registry:*)
      if [ "$t" = registry ]; then ports="$(ls "$STATE_DIR" | sed -n 's/^registry-\([0-9]*\)\.\(pid\|container\)$/\1/p' | sort -u)"
      else ports="${t#registry:}"; fi
      for port in $ports; do
        stop_pid_file "registry:$port" "$STATE_DIR/registry-$port.pid" 10
        if [ -f "$STATE_DIR/registry-$port.container" ]; then
          name="$(cat "$STATE_DIR/registry-$port.container")"
          if c="$(find_working_client)"; then log "registry:$port: removing container $name"; "$c" rm -f "$name" >/dev/null || true; fi
          rm -f "$STATE_DIR/registry-$port.container"
        fi
      done ;;
    dockerd) stop_pid_file dockerd "$STATE_DIR/dockerd.pid" 30 ;;
    *) die "unknown service '$t' (expected: registry, registry:<port>, dockerd)" ;;
  esac
done
