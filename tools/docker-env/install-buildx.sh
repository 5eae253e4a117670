#!/usr/bin/env bash
# Installs the docker-buildx CLI plugin into a DOCKER_CONFIG folder of this checkout's state dir
# (tmp/docker-env/buildx/docker-config/cli-plugins/docker-buildx), so the Docker suites can run
# through buildx (the docker driver, as `docker build` is on Docker 23+ and Docker Desktop)
# without touching the machine's docker setup. Idempotent: a working plugin is kept.
#
# Debian bookworm has no docker-buildx package; trixie's (0.13) needs only libc6 >= 2.34, so
# it is fetched with apt from a separate sources list (its own lists and archive folders, the
# machine's Debian mirror read from its apt sources) and unpacked with dpkg-deb. Nothing is
# installed into, or upgraded on, the system.
#
# stdout: NXDD_BUILDX_DOCKER_CONFIG=<dir> (use as DOCKER_CONFIG with a docker client).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR="$STATE_DIR/buildx"
CONFIG="$DIR/docker-config"
PLUGIN="$CONFIG/cli-plugins/docker-buildx"

if [ -x "$PLUGIN" ] && "$PLUGIN" version >/dev/null 2>&1; then
  log "buildx already installed: $("$PLUGIN" version)"
  echo "NXDD_BUILDX_DOCKER_CONFIG=$CONFIG"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
  || die "apt-get and dpkg-deb are needed to fetch docker-buildx — run on Debian/Ubuntu, or put a docker-buildx binary at $PLUGIN."

mirror=""
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' "$f" | head -n1)"
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' /etc/apt/sources.list | head -n1)"
fi
[ -n "$mirror" ] || die "No Debian mirror found in /etc/apt/sources.list(.d) — add one, or put a docker-buildx binary at $PLUGIN."
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "$keyring is missing — apt-get install debian-archive-keyring, then run this again."

APT="$DIR/apt"
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/download" "$CONFIG/cli-plugins"
echo "deb [signed-by=$keyring] $mirror trixie main" > "$APT/sources.list"
opts=(
  -o "Dir::Etc::SourceList=$APT/sources.list"
  -o "Dir::Etc::SourceParts=-"
  -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache::Archives=$APT/archives"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=root"
)
log "fetching docker-buildx from Debian trixie (separate apt lists in $APT; the system is not changed)"
apt-get "${opts[@]}" update -qq >&2
(cd "$APT/download" && rm -f docker-buildx_*.deb && apt-get "${opts[@]}" download docker-buildx >&2)
deb="$(ls "$APT/download"/docker-buildx_*.deb | head -n1)"
rm -rf "$APT/extract"
dpkg-deb -x "$deb" "$APT/extract"
install -m 0755 "$APT/extract/usr/libexec/docker/cli-plugins/docker-buildx" "$PLUGIN"
rm -rf "$APT/extract" "$APT/lists"
"$PLUGIN" version >/dev/null 2>&1 || die "the unpacked docker-buildx does not run on this machine ($deb)."
log "buildx installed: $("$PLUGIN" version) → $PLUGIN"
echo "NXDD_BUILDX_DOCKER_CONFIG=$CONFIG"
