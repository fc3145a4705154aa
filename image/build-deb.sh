#!/usr/bin/env bash
# Builds the Debian packages of waitless into target/deb/:
#   waitless_VERSION-1_amd64.deb   (this machine's rustup toolchain, target/release)
#   waitless_VERSION-1_arm64.deb   (Raspberry Pi 3/4/5, 64-bit; with the gpio feature)
# The arm64 build is Debian's route, no downloads outside the registries: the cross linker
# gcc-aarch64-linux-gnu and Debian's rustc with the arm64 standard library (rustc-web,
# libstd-rust-web-dev:arm64). Debian's rustc is used only for that target
# (RUSTC=/usr/bin/rustc), in its own target dir (target/aarch64-debian), so it never
# clobbers rustup's build cache. Installs what it needs (apt, cargo-deb) itself, once.
# Usage: image/build-deb.sh [amd64] [arm64]     (default: both)   — run as root (apt).
set -euo pipefail
cd "$(dirname "$0")/.."
. image/lib.sh
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)
out=target/deb
mkdir -p "$out"

echo "== tools"
ensure_packages dpkg-dev
if [[ " ${arches[*]} " == *" arm64 "* ]]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -q
  fi
  ensure_packages gcc-aarch64-linux-gnu libc6-dev-arm64-cross rustc-web libstd-rust-web-dev:arm64
fi
if ! cargo deb --version >/dev/null 2>&1; then
  start=$(now)
  cargo install cargo-deb --locked
  took "cargo install cargo-deb" "$start"
fi
image/make-config.sh --check

for arch in "${arches[@]}"; do
  start=$(now)
  case "$arch" in
    amd64)
      echo "== cargo deb (amd64)"
      cargo deb --locked --output "$out/"
      ;;
    arm64)
      echo "== cargo deb --target aarch64-unknown-linux-gnu (Debian's rustc $(/usr/bin/rustc --version | cut -d' ' -f2))"
      RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/aarch64-debian \
        cargo deb --locked --target aarch64-unknown-linux-gnu --features gpio --output "$out/"
      ;;
    *)
      echo "unknown architecture $arch (amd64, arm64)" >&2
      exit 2
      ;;
  esac
  took "deb $arch" "$start"
done
ls -l "$out"/*.deb
