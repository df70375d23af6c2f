#!/usr/bin/env bash
# The compose stack, run for real, checked the way an operator would check it:
#   build → up (demo profile: simulated broker + headless Chromium) → every service healthy →
#   ticks → candles → CSV files in the qf-data volume → the gateway on 127.0.0.1 with its token
#   (and not without) → the chart in a real browser → --scale candles=3 → docker kill of each
#   service and back → down and up again → every tick the broker sent is on disk exactly once
#   (outside the windows in which capture was down) and no candle is on disk twice.
# Prints figures (build time, start-to-healthy, recovery per service, image sizes) and removes
# its own project (`down -v`) however it ends.
#
# Without access to an image registry it builds on base images made from Debian packages
# (scripts/base-images.sh, docker-compose.local.yml) and the web app built on the host.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

PROJECT="${QF_CHECK_PROJECT:-qfcheck}"
BEGUN="$(date +%s.%N)"
PY="${QF_CHECK_PYTHON:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d /tmp/qf-compose-check.XXXXXX)"
WINDOWS="$WORK/windows"
: >"$WINDOWS"
trap 'rm -rf "$WORK"' EXIT

say() { printf '\ncompose-check: %s\n' "$*"; }
fail() { printf '\ncompose-check: FAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
figure() { printf '  FIGURE %-38s %s\n' "$1" "$2" | tee -a "$WORK/figures"; }

# wait_for SECONDS WHAT COMMAND…: run COMMAND every second until it succeeds, at most SECONDS.
wait_for() {
  local limit="$1" what="$2" start
  shift 2
  start="$(date +%s)"
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) - start < limit)) || fail "waited ${limit} s for $what"
    sleep 1
  done
}

# ---------------------------------------------------------------- engine, images, compose files

scripts/base-images.sh --engine
if docker compose version >/dev/null 2>&1; then DC_BIN=(docker compose); else DC_BIN=(docker-compose); fi
FILES=(-f docker-compose.yml)
public_images() {
  local img
  for img in python:3.11-slim-bookworm node:20-bookworm-slim debian:bookworm-slim redis:7; do
    docker image inspect "$img" >/dev/null 2>&1 || timeout 120 docker pull -q "$img" >/dev/null 2>&1 || return 1
  done
}
if [ "${QF_CHECK_BASE:-auto}" = local ] || { [ "${QF_CHECK_BASE:-auto}" = auto ] && ! public_images; }; then
  say "no image registry: base images from Debian packages, the web app as built on the host"
  [ -f web/dist/index.html ] || fail "web/dist is missing: run scripts/setup.sh first"
  scripts/base-images.sh
  FILES+=(-f docker-compose.local.yml)
fi

# What only this check wants: a 5-second timeframe so candle files appear within seconds.
cat >"$WORK/check.yml" <<'EOF'
services:
  candles:
    environment:
      QF_TIMEFRAMES: 5s,1m,5m,15m,1h,4h
EOF
FILES+=(-f "$WORK/check.yml")

export QF_API_TOKEN="check-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export QF_GATEWAY_HOST_PORT="${QF_CHECK_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
GATEWAY="http://127.0.0.1:$QF_GATEWAY_HOST_PORT"
dc() { "${DC_BIN[@]}" -p "$PROJECT" --env-file demo.env "${FILES[@]}" "$@"; }

cleanup() {
  local code=$?
  if [ "$code" != 0 ]; then
    dc ps >&2 || true
    dc logs --tail=30 >&2 2>/dev/null || true
  fi
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
dc down -v --remove-orphans >/dev/null 2>&1 || true

# ---------------------------------------------------------------- build and start

t="$(now)"
# Every QuantumFlux service runs the same image: building it once, for ingest, is enough.
dc build -q ingest chrome >/dev/null 2>&1 || dc build ingest chrome
figure "image build (s)" "$(since "$t")"
figure "image size quantumflux (MB)" "$(($(docker image inspect -f '{{.Size}}' quantumflux:latest) / 1000000))"
figure "image size quantumflux-chromium (MB)" "$(($(docker image inspect -f '{{.Size}}' quantumflux-chromium:latest) / 1000000))"

containers() { docker ps -q --filter "label=com.docker.compose.project=$PROJECT" "$@"; }
service_ids() { containers --filter "label=com.docker.compose.service=$1"; }
all_healthy() {
  local ids id state
  ids="$(containers)"
  [ -n "$ids" ] || return 1
  for id in $ids; do
    state="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")"
    [ "$state" = healthy ] || return 1
  done
}
SERVICES=(redis ingest candles persistence signals backtest gateway sim chrome)
count_services() { local n=0 s; for s in "${SERVICES[@]}"; do [ -n "$(service_ids "$s")" ] && n=$((n + 1)); done; echo "$n"; }

say "starting the stack (project $PROJECT, gateway on $GATEWAY)"
t="$(now)"
dc up -d >/dev/null 2>&1 || dc up -d
wait_for 180 "every service to be healthy" all_healthy
[ "$(count_services)" = "${#SERVICES[@]}" ] || fail "not every service runs"
figure "start to healthy (s)" "$(since "$t")"

# ---------------------------------------------------------------- data flows to the files

volume_run() { docker run --rm -v "${PROJECT}_qf-data:/data:ro" --entrypoint sh quantumflux:latest -c "$1"; }
tick_rows() { volume_run 'cat /data/realtime_stream/tick_data/*.csv 2>/dev/null | grep -vc ^timestamp || true'; }
bar_rows() { volume_run 'cat /data/realtime_stream/5S_candle_data/*.csv 2>/dev/null | grep -vc ^timestamp || true'; }
more_than() { local n; n="$("$1")"; [ "$n" -gt "$2" ]; }

t="$(now)"
wait_for 90 "tick rows in the qf-data volume" more_than tick_rows 20
wait_for 60 "5-second candle rows in the qf-data volume" more_than bar_rows 4
figure "healthy to candle rows on disk (s)" "$(since "$t")"

# ---------------------------------------------------------------- the gateway, as a browser sees it

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
got="$(code -H "Authorization: Bearer $QF_API_TOKEN" "$GATEWAY/api/assets")"
[ "$got" = 200 ] || fail "the gateway answered $got to /api/assets with the token"
got="$(code "$GATEWAY/api/assets")"
case "$got" in 401 | 403) ;; *) fail "the gateway answered $got to /api/assets without the token" ;; esac
say "gateway: 200 with the token, $got without"
"$PY" scripts/compose_audit.py chart "$GATEWAY/?token=$QF_API_TOKEN" || fail "the chart did not load"

# ---------------------------------------------------------------- three candle workers

bars_stream() { dc exec -T redis redis-cli XLEN qf:bars:5 | tr -d '\r'; }
bars_grew() { [ "$(bars_stream)" -gt "$1" ]; }
status_json() { dc exec -T gateway qf status --json >"$WORK/status.json"; }
scaled() { status_json && "$PY" scripts/compose_audit.py scaled "$WORK/status.json" 3; }
say "scaling candles to 3"
dc up -d --no-recreate --scale candles=3 >/dev/null 2>&1
wait_for 90 "three candle workers sharing the partitions" scaled
"$PY" scripts/compose_audit.py scaled "$WORK/status.json" 3
before="$(bars_stream)"
wait_for 30 "bars to keep flowing with three workers" bars_grew "$before"

# ---------------------------------------------------------------- each service crashes and comes back

for svc in ingest candles persistence signals backtest gateway redis; do
  id="$(service_ids "$svc" | head -1)"
  start="$(date +%s.%N)"
  # A crash, as the engine sees one: the main process dies of SIGKILL. (`docker kill` itself
  # counts as an operator's stop, which no restart policy undoes.)
  kill -KILL "$(docker inspect -f '{{.State.Pid}}' "$id")"
  # Wait until the killed container is seen down, then until everything is healthy again.
  wait_for 30 "$svc to be restarted" sh -c "[ \"\$(docker inspect -f '{{.RestartCount}}' $id)\" -gt 0 ]"
  wait_for 120 "$svc to be healthy again" all_healthy
  figure "crash of $svc to healthy again (s)" "$(since "$start")"
  if [ "$svc" = ingest ]; then
    # While ingest is away nobody captures; ticks sent then may be missing, no others.
    echo "$(awk -v s="$start" 'BEGIN { printf "%.3f", s - 1 }') $(date +%s.%N) ingest killed" >>"$WINDOWS"
  fi
done
before="$(bars_stream)"
wait_for 30 "bars to flow after the kills" bars_grew "$before"

# ---------------------------------------------------------------- down and up: nothing forgotten

ticks_before="$(tick_rows)"
bars_before="$(bars_stream)"
start="$(date +%s.%N)"
dc down >/dev/null 2>&1
dc up -d >/dev/null 2>&1
wait_for 180 "every service to be healthy after down and up" all_healthy
figure "down, up, healthy again (s)" "$(since "$start")"
[ "$(tick_rows)" -ge "$ticks_before" ] || fail "tick rows went from $ticks_before to $(tick_rows) over down/up"
[ "$(bars_stream)" -ge "$bars_before" ] || fail "qf:bars:5 went from $bars_before to $(bars_stream) over down/up"
say "after down and up: $(tick_rows) tick rows (had $ticks_before), qf:bars:5 holds $(bars_stream) (had $bars_before)"
wait_for 90 "ticks to flow again after down and up" more_than tick_rows "$(tick_rows)"
echo "$(awk -v s="$start" 'BEGIN { printf "%.3f", s - 1 }') $(date +%s.%N) stack down and up" >>"$WINDOWS"

# ---------------------------------------------------------------- the audit

# The broker stops first; then everything it sent reaches the files before they are read.
dc stop sim >/dev/null 2>&1
settled() { local a; a="$(tick_rows)"; sleep 3; [ "$(tick_rows)" = "$a" ]; }
wait_for 60 "the tick files to stop growing" settled
mkdir -p "$WORK/data" "$WORK/sim"
docker run --rm -v "${PROJECT}_qf-data:/data:ro" --entrypoint tar quantumflux:latest -C /data -c . | tar -C "$WORK/data" -x
docker run --rm -v "${PROJECT}_sim-data:/data:ro" --entrypoint cat quantumflux:latest /data/ticks-sent.jsonl >"$WORK/sim/ticks.jsonl"
say "audit: what the broker sent against what the qf-data volume holds"
"$PY" scripts/compose_audit.py files "$WORK/data" "$WORK/sim/ticks.jsonl" "$WINDOWS" || fail "the audit found problems"

figure "whole check (s)" "$(since "$BEGUN")"
say "figures"
cat "$WORK/figures"
say "PASSED"
