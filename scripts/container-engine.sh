#!/usr/bin/env bash
# Finds a container engine that can build and run the connector images, sets it up when
# needed, and prints how to call it as shell assignments (eval them, or parse KEY=VALUE):
#
#   CONTAINER_ENGINE       the command, e.g. `docker` or `podman --runtime runc`
#   CONTAINER_KIND         docker | podman
#   CONTAINER_BUILD_FLAGS  flags for `build` on this machine
#   CONTAINER_RUN_FLAGS    flags for `run` on this machine (always host networking, so a
#                          container reaches emulators listening on the host's 127.0.0.1)
#   CONTAINER_BASE_IMAGE   --build-arg BASE_IMAGE to use; empty = the Dockerfiles' default
#                          (Airbyte's python-connector-base from Docker Hub)
#   CONTAINER_WHEELHOUSE   1 when builds may use a wheelhouse built on the host (see images.sh)
#
# Order: a working docker (daemon answers) > podman. Where neither works and we are root on
# Debian/Ubuntu, podman and runc (and mmdebstrap or debootstrap) are installed with apt-get.
# Podman is set up for machines like the project's CI box: no registry access, hybrid cgroups
# (crun fails, runc works), low ulimits that cannot be raised, a TLS-inspecting egress proxy
# whose CA is in the host's bundle. There the base image is made locally with mmdebstrap
# (else debootstrap): Debian bookworm, whose python3 is 3.11 like the project's, kept in the
# engine's storage between runs.
#
# Overrides: CONTAINER_ENGINE=docker|podman forces one; BASE_IMAGE=<image> uses that base image
# (BASE_IMAGE=default keeps the Dockerfiles' default even with podman).
# Progress goes to stderr; only the assignments go to stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_BASE="localhost/python-base:bookworm"
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1000:1000)
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

say() { echo "container-engine: [${SECONDS}s] $*" >&2; }
die() { echo "container-engine: ERROR: $*" >&2; exit 1; }

docker_works() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }
podman_works() { command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
  && podman --runtime runc info >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "no apt-get to install $*: install docker or podman yourself"
  [ "$(id -u)" = 0 ] || die "installing $* needs root (apt-get): install docker or podman yourself"
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}

# Where this machine's apt gets Debian from (the mirror for the base image).
debian_mirror() {
  local m=""
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    m="$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v -- '-security' | grep -i debian | head -n1 || true)"
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list || true)"
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

apt_try() { # like apt_install, but a failure only returns 1
  ( apt_install "$@" ) 2>/dev/null && APT_UPDATED=1
}

build_local_base() {
  local pod=(podman --runtime runc)
  if "${pod[@]}" image exists "$LOCAL_BASE"; then
    return 0
  fi
  local dir="$ROOT/build/images" mirror t0=$SECONDS
  mirror="$(debian_mirror)"
  rm -rf "$dir/rootfs" "$dir/rootfs.tar"
  # mmdebstrap (apt's parallel downloads) takes about half of debootstrap's time.
  command -v mmdebstrap >/dev/null 2>&1 || command -v debootstrap >/dev/null 2>&1 || apt_try mmdebstrap || true
  if command -v mmdebstrap >/dev/null 2>&1; then
    say "building $LOCAL_BASE with mmdebstrap from $mirror (about a minute, once)"
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      --customize-hook='ln -snf /usr/share/zoneinfo/Etc/UTC "$1/etc/localtime"' \
      bookworm "$dir/rootfs.tar" "$mirror" >"$dir/base-image.log" 2>&1 \
      || die "mmdebstrap failed: see $dir/base-image.log"
  else
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    say "building $LOCAL_BASE with debootstrap from $mirror (one to three minutes, once)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$dir/rootfs" "$mirror" >"$dir/base-image.log" 2>&1 \
      || die "debootstrap failed: see $dir/base-image.log"
    # No package caches in the base image.
    rm -rf "$dir"/rootfs/var/cache/apt/*.bin "$dir"/rootfs/var/cache/apt/archives/*.deb "$dir"/rootfs/var/lib/apt/lists/*
    ln -snf /usr/share/zoneinfo/Etc/UTC "$dir/rootfs/etc/localtime"
    tar -C "$dir/rootfs" -cf "$dir/rootfs.tar" . && rm -rf "$dir/rootfs"
  fi
  "${pod[@]}" import --message "Debian bookworm minbase + python3" "$dir/rootfs.tar" "$LOCAL_BASE" >/dev/null 9>&- \
    || die "podman import of the base image failed"
  rm -f "$dir/rootfs.tar"
  say "built $LOCAL_BASE in $((SECONDS - t0)) s"
}

emit() { printf '%s=%q\n' "$1" "$2"; }

mkdir -p "$ROOT/build/images"
# One setup at a time (two test runs, or `make images` beside a test run).
exec 9>"$ROOT/build/images/.engine.lock"
flock 9 2>/dev/null || true

choice="${CONTAINER_ENGINE:-}"
if [ -z "$choice" ]; then
  if docker_works; then choice=docker; else choice=podman; fi
fi

case "$choice" in
  docker*)
    docker_works || die "docker does not answer (is the daemon running? docker info)"
    base=""
    [ -n "${BASE_IMAGE:-}" ] && [ "${BASE_IMAGE}" != default ] && base="$BASE_IMAGE"
    emit CONTAINER_KIND docker
    emit CONTAINER_ENGINE docker
    emit CONTAINER_BUILD_FLAGS ""
    emit CONTAINER_RUN_FLAGS "--network host"
    emit CONTAINER_BASE_IMAGE "$base"
    emit CONTAINER_WHEELHOUSE 0
    ;;
  podman*)
    if ! podman_works; then
      missing=()
      command -v podman >/dev/null 2>&1 || missing+=(podman)
      command -v runc >/dev/null 2>&1 || missing+=(runc)
      if [ "${#missing[@]}" -gt 0 ]; then
        say "no working docker; installing ${missing[*]}"
        apt_install "${missing[@]}"
      fi
      podman_works || die "podman is installed but 'podman --runtime runc info' fails (run it to see why)"
    fi
    build_flags="--network host ${ULIMITS[*]}"
    [ -f "$CA_BUNDLE" ] && build_flags+=" -v $CA_BUNDLE:$CA_BUNDLE:ro"
    if [ -n "${BASE_IMAGE:-}" ]; then
      base="$BASE_IMAGE"
      [ "$base" = default ] && base=""
    else
      build_local_base
      base="$LOCAL_BASE"
    fi
    emit CONTAINER_KIND podman
    emit CONTAINER_ENGINE "podman --runtime runc"
    emit CONTAINER_BUILD_FLAGS "$build_flags"
    emit CONTAINER_RUN_FLAGS "--network host ${ULIMITS[*]}"
    emit CONTAINER_BASE_IMAGE "$base"
    emit CONTAINER_WHEELHOUSE 1
    ;;
  *)
    die "unknown CONTAINER_ENGINE=$choice (use docker or podman)"
    ;;
esac
