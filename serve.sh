#!/usr/bin/env bash
# Runs the contact center with its embedded defaults (demo setup, SQLite in ./switchyard.db,
# http://127.0.0.1:8080). Extra arguments go to `switchyard serve` (see --help).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
exec cargo run --release -p web --bin switchyard -- serve "$@"
