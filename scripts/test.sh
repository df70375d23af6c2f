#!/usr/bin/env bash
# Every check of the project: lint, types, the web app's unit tests, then all Python tests
# against a real Redis (started here when none answers on 127.0.0.1:6379).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf 'test: %s\n' "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! .venv/bin/python -c 'import redis,sys; sys.exit(0 if redis.Redis(socket_connect_timeout=1).ping() else 1)' 2>/dev/null; then
  if ! command -v redis-server >/dev/null 2>&1; then
    say "installing redis-server from the OS packages"
    sudo_if_needed apt-get update -qq && DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq redis-server >&2
  fi
  say "starting a Redis server on 127.0.0.1:6379 for the tests"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --logfile "$(mktemp -d)/redis.log" >&2 || { say "could not start redis-server"; exit 1; }
  for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

failed=0
say "ruff"; .venv/bin/ruff check . || failed=1
.venv/bin/ruff format --check . >/dev/null || { say "ruff format would change files (run: .venv/bin/ruff format .)"; failed=1; }
say "mypy"; .venv/bin/mypy || failed=1
if [ -f web/package.json ]; then
  say "web unit tests"; (cd web && npm test --silent) || failed=1
fi
say "pytest"
.venv/bin/pytest "$@"
code=$?
if [ "$code" = 5 ]; then say "no test ran"; exit 1; fi
[ "$code" = 0 ] || exit "$code"
[ "$failed" = 0 ] || { say "lint, types or web tests failed (see above)"; exit 1; }
