#!/usr/bin/env bash
# Set-up that is safe to run again and again: it only does what changed since the last run.
#  - the Python environment in .venv (Python 3.11 or newer) with the project installed
#  - Chromium from the OS packages (for the demo and the browser tests) when it is missing
#  - the web app's packages and build (web/dist) when web/ changed
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf 'setup: %s\n' "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then sudo_if_needed apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "$@" >&2
}

# 1. Python
py=""
for cand in python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    py="$cand"; break
  fi
done
[ -n "$py" ] || { say "QuantumFlux needs Python 3.11 or newer (python3 --version says: $(python3 --version 2>&1))"; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating the Python environment in .venv"
  "$py" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$py" -m venv .venv; }
fi
want="$(hash_of pyproject.toml)"
if [ "$(cat .venv/.qf-installed 2>/dev/null)" != "$want" ]; then
  say "installing QuantumFlux and its Python packages"
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e '.[dev]' >&2
  echo "$want" > .venv/.qf-installed
fi

# 2. Chromium (the demo drives a headless one; tests use it too)
if [ -z "${QF_CHROME_BIN:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  say "installing Chromium from the OS packages"
  apt_install chromium
fi

# 3. The web app
if [ -f web/package.json ]; then
  command -v npm >/dev/null 2>&1 || { say "installing Node.js and npm"; apt_install nodejs npm; }
  want="$(hash_of web/package.json web/package-lock.json)"
  if [ ! -d web/node_modules ] || [ "$(cat web/node_modules/.qf-installed 2>/dev/null)" != "$want" ]; then
    say "installing the web app's packages"
    (cd web && npm ci --no-audit --no-fund --loglevel=error) >&2
    echo "$want" > web/node_modules/.qf-installed
  fi
  want="$(find web -path web/node_modules -prune -o -path web/dist -prune -o -path web/e2e -prune -o -type f -print | LC_ALL=C sort | xargs cat | sha256sum | cut -d' ' -f1)"
  if [ ! -f web/dist/index.html ] || [ "$(cat web/dist/.qf-built 2>/dev/null)" != "$want" ]; then
    say "building the web app"
    (cd web && npm run --silent build) >&2
    echo "$want" > web/dist/.qf-built
  fi
fi
