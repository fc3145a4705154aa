#!/usr/bin/env bash
# Packaging checks for CI (.ci/run calls this after `cargo test`), as root:
#   1. image/make-config.sh --check   the shipped /etc/waitless/config.toml follows the example
#   2. image/verify-units.sh          systemd-analyze verify (no output) and security score
#   3. image/test-deb.sh              builds both .debs, installs/runs/purges the amd64 one,
#                                     runs the arm64 binary under qemu-aarch64-static
#   4. unless WAITLESS_IMAGE_TEST=0: image/build-image.sh + image/test-image.sh (the Pi image,
#      booted in qemu-system-aarch64; minutes even with a warm cache, see docs/install.md)
# Stage times go to target/ci-timings.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
. image/lib.sh
mkdir -p target
export TIMINGS=target/ci-timings.txt
: >"$TIMINGS"
ci_start=$(now)
echo "== packaging: shipped configuration"
image/make-config.sh --check
for f in image/pi-gen/stage-waitless/prerun.sh image/pi-gen/stage-waitless/00-install-waitless/00-run.sh image/*.sh; do bash -n "$f"; done
sh -n image/rootfs/usr/local/sbin/waitless-setup
echo "== packaging: systemd units"
image/verify-units.sh
echo "== packaging: Debian packages"
image/test-deb.sh
# The debootstrap and kernel layers are cached in /var/cache/waitless-image: with them ~3 min,
# on a brand-new machine ~15–30 min more (docs/performance.md).
if [ "${WAITLESS_IMAGE_TEST:-1}" = 1 ]; then
  echo "== packaging: Raspberry Pi image"
  image/build-image.sh
  image/test-image.sh
else
  echo "== packaging: Raspberry Pi image skipped (WAITLESS_IMAGE_TEST=0)"
fi
took "image/ci.sh" "$ci_start"
cat "$TIMINGS"
