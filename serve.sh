#!/usr/bin/env bash
# Runs the contact center with its embedded defaults (demo setup, SQLite in ./switchyard.db,
# http://127.0.0.1:8080, live transcripts with whisper tiny.en). Extra arguments go to
# `switchyard serve` (see --help); `--whisper-model none` turns transcripts off.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
source scripts/model.sh
cargo build --release -p web --bin switchyard
bin=target/release/switchyard
args=("$@")
# The real whisper model, fetched and converted once, unless a model was named.
if [[ " $* " != *" --whisper-model"* && -z "${SWITCHYARD_WHISPER_MODEL:-}" ]]; then
  ensure_tiny_en "$bin"
  if [ -n "$TINY_EN_MODEL" ]; then args+=(--whisper-model "$TINY_EN_MODEL"); fi
fi
exec "$bin" serve "${args[@]}"
