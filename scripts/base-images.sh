#!/usr/bin/env bash
# Base images made from Debian packages, for machines that reach the Debian archive but no image
# registry. They stand in for the public images the Dockerfiles name (python:3.11-slim-bookworm,
# debian:bookworm-slim, redis:7) through docker-compose.local.yml; on a normal machine nothing
# here is needed.
#
#   scripts/base-images.sh            start the container engine if needed, build what is missing
#   scripts/base-images.sh --engine   only make sure the container engine answers
#
# Each image is built once and kept: a second run only checks that they exist.
set -euo pipefail

DEBIAN_IMAGE="${QF_BASE_DEBIAN:-qf-base/debian:bookworm}"
REDIS_IMAGE="${QF_BASE_REDIS:-qf-base/redis:7}"
MIRROR="${QF_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { printf 'base-images: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_install() {
  DEBIAN_FRONTEND=noninteractive as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# The engine: Debian's docker.io, started in the background when no service manager runs it.
ensure_engine() {
  engine_answers && return 0
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 ||
    apt_install docker-compose
  if ! engine_answers; then
    say "starting dockerd (log: /var/log/qf-dockerd.log)"
    as_root sh -c 'nohup dockerd >/var/log/qf-dockerd.log 2>&1 &'
    for _ in $(seq 60); do engine_answers && break; sleep 1; done
  fi
  engine_answers || die "the container engine does not answer; see /var/log/qf-dockerd.log"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Debian minbase plus Python 3.11 (with venv): serves as the Python image, as the plain Debian
# image (Chromium is installed on top of it) and as the web stage's image when web/dist is built
# on the host. About a minute, once.
build_debian() {
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local root
  root="$(mktemp -d /var/tmp/qf-base.XXXXXX)"
  trap 'rm -rf "$root"' RETURN
  say "debootstrap bookworm into $root"
  as_root debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$MIRROR" >/dev/null
  # Builds on this machine reach the package registries through whatever it trusts: its own
  # extra certificate authorities go into the image too, and pip is told to use the system's.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    as_root cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    as_root chroot "$root" update-ca-certificates >/dev/null 2>&1
  fi
  # What an image does not need: downloaded packages, package lists, docs.
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
  as_root tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' - "$DEBIAN_IMAGE" >/dev/null
}

# Redis 7.0 from Debian, shaped like the public redis image: runs as redis in /data.
build_redis() {
  docker build -q -t "$REDIS_IMAGE" - >/dev/null <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \\
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
EOF
}

ensure_engine
[ "${1:-}" = "--engine" ] && exit 0
have_image "$DEBIAN_IMAGE" || { build_debian; say "built $DEBIAN_IMAGE"; }
have_image "$REDIS_IMAGE" || { build_redis; say "built $REDIS_IMAGE"; }
