#!/usr/bin/env bash
# The wheel a user installs (pipx install dist/quantumflux-*.whl): the services and the built web app.
#   scripts/build-wheel.sh [OUT_DIR]     (default: dist/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-dist}"
"$(pwd)/scripts/setup.sh"   # the environment, and web/dist built when web/ changed
rm -rf services/gateway/webapp build
cp -r web/dist services/gateway/webapp
trap 'rm -rf services/gateway/webapp build' EXIT
.venv/bin/python -m pip wheel -q --no-deps -w "$out" . >&2
ls "$out"/quantumflux-*.whl
