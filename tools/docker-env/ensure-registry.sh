#!/usr/bin/env bash
# Make sure a real OCI registry (distribution 2.x) answers on 127.0.0.1:$REGISTRY_PORT.
# Idempotent: reuses whatever already answers /v2/. Otherwise runs Debian's
# `docker-registry serve` (installed when missing and possible), falling back to
# the registry:2 image on machines that can pull from Docker Hub.
# Deletes are enabled: tests delete manifests to simulate a wiped registry.
# stdout: NXDD_TEST_REGISTRY=127.0.0.1:<port>  and  NXDD_STARTED=registry:<port> (only if started here)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${REGISTRY_PORT:-5000}"
ADDR="127.0.0.1:$PORT"
# Per-port state, so registries on two ports never share a pid file or storage.
PID_FILE="$STATE_DIR/registry-$PORT.pid"
CONTAINER_FILE="$STATE_DIR/registry-$PORT.container"
LOG="$STATE_DIR/registry-$PORT.log"
CONFIG="$STATE_DIR/registry-$PORT.yml"
STORAGE="$STATE_DIR/registry-$PORT"

wait_ready() { # $1 = seconds, $2 = pid to watch (optional)
  local deadline=$((SECONDS + $1))
  until http_ok "http://$ADDR/v2/"; do
    if [ -n "${2:-}" ] && ! pid_alive "$2"; then return 1; fi
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.3
  done
}

if http_ok "http://$ADDR/v2/"; then
  log "registry already answering on $ADDR, reusing it"
  echo "NXDD_TEST_REGISTRY=$ADDR"
  exit 0
fi

# Something that listens but does not answer /v2/ with 2xx (auth, another service).
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "Port $PORT is taken by a service that is not an open registry (GET /v2/ failed): stop it or set REGISTRY_PORT to a free port."
fi

if ! command -v docker-registry >/dev/null 2>&1 && can_apt; then
  apt_install docker-registry || log "could not install docker-registry"
  # Without a policy-rc.d, the package's postinst starts its own service on :5000
  # (with htpasswd auth). We just installed it, so that service is ours to stop.
  if [ -x /etc/init.d/docker-registry ]; then /etc/init.d/docker-registry stop >/dev/null 2>&1 || true; fi
fi

if command -v docker-registry >/dev/null 2>&1; then
  mkdir -p "$STORAGE"
  cat > "$CONFIG" <<YAML
version: 0.1
log:
  level: warn
  fields:
    service: nxdd-test-registry
storage:
  filesystem:
    rootdirectory: $STORAGE
  delete:
    enabled: true
http:
  addr: $ADDR
YAML
  log "starting docker-registry serve $CONFIG (log: $LOG)"
  setsid docker-registry serve "$CONFIG" >"$LOG" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  if ! wait_ready 30 "$(cat "$PID_FILE")"; then
    tail -n 20 "$LOG" >&2 || true
    kill "$(cat "$PID_FILE")" 2>/dev/null || true
    rm -f "$PID_FILE"
    die "docker-registry did not answer on $ADDR within 30s: see $LOG."
  fi
  log "registry ready on $ADDR (pid $(cat "$PID_FILE"), storage $STORAGE)"
else
  docker_bin="$(find_working_client)" || die "No registry binary and no Docker daemon: install docker-registry (Debian) or run ensure-docker.sh first."
  name="nxdd-test-registry-$PORT"
  log "docker-registry not installable here; trying $docker_bin run registry:2"
  "$docker_bin" rm -f "$name" >/dev/null 2>&1 || true
  "$docker_bin" run -d --name "$name" -p "$ADDR:5000" \
    -e REGISTRY_STORAGE_DELETE_ENABLED=true registry:2 >/dev/null \
    || die "Could not run registry:2 (no Docker Hub?): install the docker-registry package (apt-get install docker-registry)."
  echo "$name" > "$CONTAINER_FILE"
  wait_ready 30 || die "registry container $name did not answer on $ADDR within 30s: see '$docker_bin logs $name'."
  log "registry ready on $ADDR (container $name)"
fi
echo "NXDD_TEST_REGISTRY=$ADDR"
echo "NXDD_STARTED=registry:$PORT"
