#!/usr/bin/env bash
# Prepares a fresh Debian machine to build Switchyard: a C/C++ toolchain (for SQLite, ring
# and whisper.cpp), cmake (for libopus and whisper.cpp), libclang (whisper.cpp's bindings)
# and Rust (through rustup) when they are missing. Sourced by ./serve.sh and ./test.sh.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "switchyard: need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_ready=
need_deb() { # need_deb COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  shift
  if [ -z "$apt_ready" ]; then as_root apt-get update -qq; apt_ready=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_deb cc build-essential
need_deb cmake cmake   # libopus (opus crate) and whisper.cpp (whisper-rs-sys)
# libclang: whisper-rs-sys generates whisper.cpp's Rust bindings with bindgen.
if ! ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so'; then
  if [ -z "$apt_ready" ]; then as_root apt-get update -qq; apt_ready=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi
need_deb pkg-config pkg-config
need_deb curl curl ca-certificates

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "switchyard: installing Rust with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
