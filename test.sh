#!/usr/bin/env bash
# Runs every test of the workspace: engine rules, actors, store (SQLite; PostgreSQL when
# SWITCHYARD_TEST_POSTGRES_URL is set, or when a server answers on 127.0.0.1:5432), HTTP
# handlers, and the scenario tests that start, kill and restart the real program, and the browser test (two headless Chromiums on the
# /call page and the /agent panel).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
need_deb psql postgresql-client
# PostgreSQL is the production store: when a server answers on the local default (trust auth,
# database `test`, as on the development machines), its tests run without being asked.
if [ -z "${SWITCHYARD_TEST_POSTGRES_URL:-}" ]; then
  local_pg=postgres://postgres@127.0.0.1:5432/test
  if PGCONNECT_TIMEOUT=3 psql -w "$local_pg" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    export SWITCHYARD_TEST_POSTGRES_URL="$local_pg"
    echo "test.sh: PostgreSQL answers at $local_pg: its tests run there" >&2
  else
    echo "test.sh: no PostgreSQL at $local_pg (set SWITCHYARD_TEST_POSTGRES_URL): its tests are skipped" >&2
  fi
fi
# The browser test: Debian's Chromium, Node.js, and playwright-core (pinned in
# tests/browser/package-lock.json; it never downloads a browser of its own).
need_deb chromium chromium
need_deb node nodejs
need_deb npm npm
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# The contract test: schemathesis (PyPI, pinned) fuzzes the API from its OpenAPI document.
SCHEMATHESIS_VENV="${SCHEMATHESIS_VENV:-$(pwd)/target/tools/schemathesis}"
if [ ! -x "$SCHEMATHESIS_VENV/bin/schemathesis" ]; then
  need_deb python3 python3 python3-venv python3-pip
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
export SWITCHYARD_SCHEMATHESIS="$SCHEMATHESIS_VENV/bin/schemathesis"
# The foreign WebRTC test: aiortc (PyPI, pinned) is a Python peer with its own offers.
AIORTC_VENV="${AIORTC_VENV:-$(pwd)/target/tools/aiortc}"
if ! "$AIORTC_VENV/bin/python" -c 'import aiortc' 2>/dev/null; then
  need_deb python3 python3 python3-venv python3-pip
  python3 -m venv "$AIORTC_VENV"
  "$AIORTC_VENV/bin/pip" install --quiet --disable-pip-version-check aiortc==1.16.0
fi
export SWITCHYARD_AIORTC_PYTHON="$AIORTC_VENV/bin/python"
# The real-model transcription tests: espeak-ng speaks, sox measures, and whisper tiny.en
# (fetched and converted by the same script as ./serve.sh) transcribes.
# The SIP trunk tests: sipp (Debian's sip-tester) plays the carrier.
need_deb sipp sip-tester
need_deb espeak-ng espeak-ng
need_deb sox sox
source scripts/model.sh
cargo build -p web --bin switchyard
ensure_tiny_en target/debug/switchyard
if [ -n "$TINY_EN_MODEL" ]; then export SWITCHYARD_TEST_WHISPER_MODEL="$TINY_EN_MODEL"; fi
exec cargo test --workspace "$@"
