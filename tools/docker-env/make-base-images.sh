#!/usr/bin/env bash
# Make the local base images the Docker test suites build FROM. There is no
# Docker Hub on the test machines, so they are assembled from host files and
# Debian packages and loaded with `docker import`. Existing tags are skipped.
#
#   nxdd-test/busybox:1        busybox-static + applet links
#   nxdd-test/node:20          busybox + host node/npm + host CA bundle
#   node:20-bookworm-slim      stand-in: debootstrap minbase + host node/npm/corepack
#   nxdd-test/elixir:1.14      only with --elixir: debootstrap + elixir, erlang-dev
#
# Usage: make-base-images.sh [--elixir]
# Env:   NX_DOCKER_BIN (client to use), DEBIAN_MIRROR (override the mirror read
#        from the host's apt sources), NXDD_PULL_TIMEOUT (seconds, default 30).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WITH_ELIXIR=0
for a in "$@"; do
  case "$a" in
    --elixir) WITH_ELIXIR=1 ;;
    *) die "unknown argument '$a' (usage: make-base-images.sh [--elixir])" ;;
  esac
done

found="$(find_buildkit_client)" || die "No BuildKit-capable docker client found: run tools/docker-env/ensure-docker.sh first."
DOCKER="${found%%$'\t'*}"
timeout 15 "$DOCKER" info >/dev/null 2>&1 || die "Docker daemon not reachable with $DOCKER: run tools/docker-env/ensure-docker.sh first."

WORK="$STATE_DIR/images"
mkdir -p "$WORK"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

timed() { # $1 = image name, rest = command; prints how long the image took
  local name="$1" t0; shift
  if image_exists "$name"; then log "$name: exists, skipped"; return 0; fi
  t0="$(now_ms)"
  log "$name: building"
  "$@"
  log "$name: done in $(fmt_ms $(( $(now_ms) - t0 )))"
}

verify() { # $1 = image, rest = command run inside; removes the image on failure
  local img="$1" out; shift
  if ! out="$("$DOCKER" run --rm "$img" "$@" 2>&1)"; then
    printf '%s\n' "$out" >&2
    "$DOCKER" rmi "$img" >/dev/null 2>&1 || true
    die "$img: '$*' failed inside the image (image removed so a re-run rebuilds it)."
  fi
  log "$img: '$*' -> $(printf '%s' "$out" | tail -n 1)"
}

host_node() { readlink -f "$(command -v node)"; }
# npm's package dir, e.g. /usr/lib/node_modules/npm (from .../npm/bin/npm-cli.js).
host_npm_dir() {
  local cli; cli="$(readlink -f "$(command -v npm)")" || return 1
  dirname "$(dirname "$cli")"
}

need_busybox_static() {
  if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then return 0; fi
  apt_install busybox-static || die "A static busybox is needed: install busybox-static (apt-get install busybox-static)."
}

busybox_rootfs() { # $1 = dir
  local d="$1" app
  need_busybox_static
  rm -rf "$d"; mkdir -p "$d/bin" "$d/sbin" "$d/usr/bin" "$d/usr/sbin" "$d/etc" "$d/root" "$d/tmp" "$d/etc/ssl/certs"
  chmod 1777 "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  for app in $(/bin/busybox --list-full); do
    [ -e "$d/$app" ] || ln -s /bin/busybox "$d/$app"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$d/etc/group"
}

import_dir() { # $1 = dir, $2 = image, rest = extra docker import -c changes
  local d="$1" img="$2"; shift 2
  local changes=() c
  for c in "$@"; do changes+=(-c "$c"); done
  tar --numeric-owner -C "$d" -c . | "$DOCKER" import "${changes[@]}" - "$img" >/dev/null
}

build_busybox() {
  local d="$WORK/busybox"
  busybox_rootfs "$d"
  import_dir "$d" nxdd-test/busybox:1 "ENV PATH=$STD_PATH" 'CMD ["sh"]'
  rm -rf "$d"
  verify nxdd-test/busybox:1 sh -c 'echo busybox ok'
}

build_node() {
  local d="$WORK/node" node npm_dir lib
  node="$(host_node)"; npm_dir="$(host_npm_dir)" || die "npm not found on the host."
  busybox_rootfs "$d"
  cp "$node" "$d/usr/bin/node"
  # Shared libraries node links against, plus the loader, at their host paths.
  for lib in $(ldd "$node" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}'); do
    cp -L --parents "$lib" "$d/"
  done
  mkdir -p "$d/usr/lib/node_modules"
  cp -a "$npm_dir" "$d/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$d/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$d/usr/bin/npx"
  # npm's shebang is "#!/usr/bin/env node".
  ln -sf /bin/busybox "$d/usr/bin/env"
  cp -L "$HOST_CA" "$d/etc/ssl/certs/ca-certificates.crt"
  import_dir "$d" nxdd-test/node:20 "ENV PATH=$STD_PATH" \
    "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" 'CMD ["node"]'
  rm -rf "$d"
  verify nxdd-test/node:20 node -e 'console.log(1)'
  verify nxdd-test/node:20 npm --version
}

# First non-security Debian mirror in the host's apt sources (read at run time
# so no mirror host is ever written into the repo).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m="$(awk '/^URIs:/{for(i=2;i<=NF;i++) if ($i !~ /security/) {print $i; exit}}' /etc/apt/sources.list.d/debian.sources)"
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m="$(awk '$1=="deb"{ for(i=2;i<=NF;i++){ if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; continue } if ($i !~ /security/) print $i; break } }' /etc/apt/sources.list | head -n 1)"
  fi
  [ -n "$m" ] || die "No Debian mirror found in /etc/apt/sources.list(.d): set DEBIAN_MIRROR=<mirror URL>."
  echo "$m"
}

# Debootstrap a bookworm rootfs once and cache it as a tarball: $1 = cache name, $2 = --include list.
# Prints the tarball path.
# debootstrap mounts /proc in its target and leaves it mounted when it is interrupted: a later
# `rm -rf` of that folder would then fail (and the tarball would hold the host's /proc).
unmount_below() {
  local dir mounts m
  dir="$(realpath -m "$1")"
  mounts="$(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts 2>/dev/null | sort -r)" || true
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"; done
}

bookworm_tarball() {
  local name="$1" include="$2" tarball="$STATE_DIR/$1.rootfs.tar" d mirror
  if [ -s "$tarball" ]; then log "using cached $tarball"; echo "$tarball"; return; fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap \
    || die "debootstrap is needed to make Debian base images: install it (apt-get install debootstrap) as root."
  is_root || die "debootstrap needs root: re-run make-base-images.sh as root."
  mirror="$(debian_mirror)"
  d="$WORK/$name.debootstrap"
  unmount_below "$d"
  rm -rf "$d"
  log "debootstrap --variant=minbase --include=$include bookworm (mirror from apt sources)"
  debootstrap --variant=minbase --include="$include" bookworm "$d" "$mirror" >"$STATE_DIR/$name.debootstrap.log" 2>&1 \
    || { tail -n 20 "$STATE_DIR/$name.debootstrap.log" >&2; die "debootstrap failed: see $STATE_DIR/$name.debootstrap.log."; }
  # Like the official slim images: no downloaded .debs, no package lists.
  unmount_below "$d"
  rm -rf "$d"/var/cache/apt/archives/*.deb "$d"/var/lib/apt/lists/*
  tar --numeric-owner -C "$d" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$d"
  echo "$tarball"
}

build_node_slim() {
  local img=node:20-bookworm-slim
  if [ "${NXDD_NO_PULL:-}" != 1 ]; then
    log "$img: trying docker pull (timeout ${NXDD_PULL_TIMEOUT:-30}s)"
    if timeout "${NXDD_PULL_TIMEOUT:-30}" "$DOCKER" pull -q "$img" >/dev/null 2>&1; then log "$img: pulled"; return 0; fi
    log "$img: pull not possible, making a stand-in"
  fi
  local tarball d node npm_dir ver
  tarball="$(bookworm_tarball bookworm-minbase ca-certificates)"
  d="$WORK/node-slim"
  rm -rf "$d"; mkdir -p "$d"
  tar --numeric-owner -C "$d" -xf "$tarball"
  node="$(host_node)"; npm_dir="$(host_npm_dir)" || die "npm not found on the host."
  ver="$(node --version)"; ver="${ver#v}"
  mkdir -p "$d/usr/local/bin" "$d/usr/local/lib/node_modules"
  cp "$node" "$d/usr/local/bin/node"
  cp -a "$npm_dir" "$d/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$d/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$d/usr/local/bin/npx"
  if [ -d "$(dirname "$npm_dir")/corepack" ]; then
    cp -a "$(dirname "$npm_dir")/corepack" "$d/usr/local/lib/node_modules/corepack"
    ln -sf ../lib/node_modules/corepack/dist/corepack.js "$d/usr/local/bin/corepack"
  fi
  # The host bundle may carry a proxy CA the machine needs for TLS.
  cp -L "$HOST_CA" "$d/etc/ssl/certs/ca-certificates.crt"
  # The official image has a `node` user (uid/gid 1000); Dockerfiles use USER node.
  grep -q '^node:' "$d/etc/passwd" || {
    echo 'node:x:1000:1000::/home/node:/bin/bash' >> "$d/etc/passwd"
    echo 'node:x:1000:' >> "$d/etc/group"
    echo 'node:*:19000:0:99999:7:::' >> "$d/etc/shadow"
    mkdir -p "$d/home/node"; chown 1000:1000 "$d/home/node"
  }
  import_dir "$d" "$img" "ENV PATH=$STD_PATH" "ENV NODE_VERSION=$ver" \
    "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" 'CMD ["node"]'
  rm -rf "$d"
  verify "$img" node -e 'console.log(1)'
  verify "$img" npm --version
}

build_elixir() {
  local img=nxdd-test/elixir:1.14 tarball d
  tarball="$(bookworm_tarball bookworm-elixir elixir,erlang-dev,ca-certificates)"
  d="$WORK/elixir"
  rm -rf "$d"; mkdir -p "$d"
  tar --numeric-owner -C "$d" -xf "$tarball"
  cp -L "$HOST_CA" "$d/etc/ssl/certs/ca-certificates.crt"
  import_dir "$d" "$img" "ENV PATH=$STD_PATH" "ENV LANG=C.UTF-8" 'CMD ["iex"]'
  rm -rf "$d"
  verify "$img" elixir --version
}

t_all="$(now_ms)"
timed nxdd-test/busybox:1 build_busybox
timed nxdd-test/node:20 build_node
timed node:20-bookworm-slim build_node_slim
[ "$WITH_ELIXIR" = 1 ] && timed nxdd-test/elixir:1.14 build_elixir
log "base images ready in $(fmt_ms $(( $(now_ms) - t_all )))"
