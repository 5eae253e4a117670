#!/usr/bin/env bash
# Make sure podman 4+ is installed (Debian's podman, for the podman Docker suite).
# Idempotent: does nothing when `podman version` answers. podman needs no daemon and keeps its
# own image store (/var/lib/containers), so nothing is started and nothing needs stopping;
# tests/docker/podman.spec.ts loads the base image it needs from docker's store itself.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v podman >/dev/null 2>&1; then
  can_apt || die "podman is not installed and apt-get is not usable here — install podman 4+ (apt-get install podman)."
  log "installing podman"
  apt_install podman
fi
version="$(podman version --format '{{.Client.Version}}' 2>/dev/null || true)"
[ -n "$version" ] || die "podman is installed but does not answer (podman version) — check its storage setup (podman info)."
log "podman $version"
