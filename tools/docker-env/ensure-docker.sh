#!/usr/bin/env bash
# Make sure a Docker daemon answers and a BuildKit-capable docker client exists.
# Idempotent: reuses any daemon that already answers. When it has to start
# dockerd itself, the log and pid file go to tmp/docker-env/ (stop.sh stops it).
# stdout: NX_DOCKER_BIN=<client>  and  NXDD_STARTED=dockerd  (only if started here)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKERD_PID_FILE="$STATE_DIR/dockerd.pid"
DOCKERD_LOG="$STATE_DIR/dockerd.log"
READY_TIMEOUT="${DOCKERD_READY_TIMEOUT:-60}"

started=""
if client="$(find_working_client)"; then
  log "daemon already running (server $("$client" version --format '{{.Server.Version}}' 2>/dev/null || echo '?')), reusing it"
else
  if ! command -v dockerd >/dev/null 2>&1; then
    if can_apt; then
      apt_install docker.io
    else
      die "No Docker daemon answers and dockerd is not installed: install Docker Engine (as root on Debian: apt-get install docker.io) or set DOCKER_HOST to a running daemon."
    fi
  fi
  is_root || die "No Docker daemon answers and only root can start dockerd here: start Docker (or set DOCKER_HOST) and re-run."
  [ -n "${DOCKER_HOST:-}" ] && die "DOCKER_HOST=$DOCKER_HOST does not answer: start that daemon or unset DOCKER_HOST."
  # A dockerd killed hard leaves /var/run/docker.pid behind and the next one
  # refuses to start ("pid file found, ensure docker is not running").
  if [ -f /var/run/docker.pid ] && ! pid_alive "$(cat /var/run/docker.pid)"; then
    rm -f /var/run/docker.pid
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  # setsid: the daemon must outlive this script and the caller's process group.
  # shellcheck disable=SC2086
  setsid dockerd ${DOCKERD_ARGS:-} >"$DOCKERD_LOG" 2>&1 < /dev/null &
  echo $! > "$DOCKERD_PID_FILE"
  deadline=$((SECONDS + READY_TIMEOUT))
  until client="$(find_working_client)"; do
    if ! pid_alive "$(cat "$DOCKERD_PID_FILE")"; then
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      rm -f "$DOCKERD_PID_FILE"
      die "dockerd exited during startup: see $DOCKERD_LOG (last lines above)."
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      die "dockerd (pid $(cat "$DOCKERD_PID_FILE")) did not answer within ${READY_TIMEOUT}s: see $DOCKERD_LOG."
    fi
    sleep 1
  done
  log "dockerd ready (pid $(cat "$DOCKERD_PID_FILE"))"
  started=dockerd
fi

if ! found="$(find_buildkit_client)"; then
  if can_apt; then
    # Debian's docker.io ships a 20.10 client whose classic builder has BuildKit built in.
    apt_install docker.io
    found="$(find_buildkit_client)" || true
  fi
  [ -n "${found:-}" ] || die "No BuildKit-capable docker client found: install the docker buildx plugin (or a Docker client older than 23, e.g. Debian's docker.io)."
fi
bin="${found%%$'\t'*}"
log "BuildKit-capable client: $bin ($( printf '%s' "${found#*$'\t'}"))"
echo "NX_DOCKER_BIN=$bin"
[ -n "$started" ] && echo "NXDD_STARTED=$started"
exit 0
