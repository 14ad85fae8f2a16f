#!/usr/bin/env bash
# Runs every test of the workspace: engine rules, actors, store (SQLite; PostgreSQL when
# SWITCHYARD_TEST_POSTGRES_URL is set), HTTP handlers, and the scenario tests that start,
# kill and restart the real program.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
need_deb psql postgresql-client
exec cargo test --workspace "$@"
