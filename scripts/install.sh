#!/usr/bin/env bash
# One command that installs everything: a venv with the Python packages, the package
# itself (editable), and the static page's npm packages. Browser tests also need a
# Chromium: on Debian/Ubuntu, `apt-get install -y chromium` (CI does this).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -r requirements.txt
python -m pip install -q -e . --no-deps
if [ -f static_site/package-lock.json ]; then
  (cd static_site && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "installed: activate with '. .venv/bin/activate'"
