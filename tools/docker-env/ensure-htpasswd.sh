#!/usr/bin/env bash
# The CI suites' credentialed registry needs htpasswd (apache2-utils) and docker-registry.
# Idempotent: installs only what is missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
missing=()
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
if [ ${#missing[@]} -eq 0 ]; then log "htpasswd and docker-registry present"; exit 0; fi
can_apt || die "Missing ${missing[*]}: install them (apt-get install ${missing[*]})."
apt_install "${missing[@]}"
# docker-registry's postinst starts its own service on :5000; we only want the binary.
if [ -x /etc/init.d/docker-registry ]; then /etc/init.d/docker-registry stop >/dev/null 2>&1 || true; fi
