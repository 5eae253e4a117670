#!/usr/bin/env bash
# Tools the registries Docker suite (tests/docker/registries.spec.ts) runs real registries with:
# docker-registry (distribution 2.8: htpasswd, TLS, token auth), htpasswd (apache2-utils, bcrypt
# entries distribution accepts) and openssl (a test CA). Idempotent: installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then
  log "registry tools present (docker-registry, htpasswd, openssl)"
  exit 0
fi
apt_install "${missing[@]}" || die "Could not install ${missing[*]}: install them (as root on Debian: apt-get install -y ${missing[*]})."
# Without a policy-rc.d, docker-registry's postinst starts its own service on :5000. We just
# installed it, so that service is ours to stop.
if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -x /etc/init.d/docker-registry ]; then
  /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi
log "installed ${missing[*]}"
