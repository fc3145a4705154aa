#!/usr/bin/env bash
# Boots the Raspberry Pi image (target/image/waitless-pi-arm64.img, from image/build-image.sh)
# in qemu-system-aarch64 -M virt: the image's own partitions (root by label, the read-only
# FAT partition with waitless-setup.txt), with the kernel and initrd taken from its FAT
# partition (the Pi's firmware would load those same files). Writes go to a throw-away
# snapshot; user networking with restrict=on (no way out) and one port forwarded on
# 127.0.0.1 only to the box's port 80. Waits for systemd to start waitless (deadline
# BOOT_DEADLINE, default 360 s), checks /healthz and /display, stops qemu by its PID.
# Usage (root not needed): image/test-image.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
. image/lib.sh
IMG=${1:-target/image/waitless-pi-arm64.img}
BOOT_DEADLINE=${BOOT_DEADLINE:-360}
[ -f "$IMG" ] || { echo "no image $IMG: run image/build-image.sh" >&2; exit 1; }
command -v qemu-system-aarch64 >/dev/null && command -v mcopy >/dev/null || \
  ensure_packages qemu-system-arm mtools curl

work=$(mktemp -d)
qemu_pid=
cleanup() {
  cp "$work/console.log" target/image/console.log 2>/dev/null || true
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fat="$IMG@@1M"
kernel=$(mdir -b -i "$fat" ::/ | sed 's|^::/||' | grep -E '^vmlinuz' | head -n 1)
initrd=$(mdir -b -i "$fat" ::/ | sed 's|^::/||' | grep -E '^initrd' | head -n 1)
[ -n "$kernel" ] && [ -n "$initrd" ] || { echo "no kernel/initrd on the FAT partition" >&2; mdir -i "$fat" ::/; exit 1; }
mcopy -i "$fat" "::/$kernel" "$work/vmlinuz"
mcopy -i "$fat" "::/$initrd" "$work/initrd.img"
echo "== boot $IMG ($kernel, $initrd) in qemu-system-aarch64"
port=$(free_port)
start=$(now)
qemu-system-aarch64 -M virt -cpu cortex-a72 -m 1024 \
  -display none -monitor none -serial "file:$work/console.log" \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "root=LABEL=RASPIROOT rw console=ttyAMA0 fsck.repair=yes systemd.log_target=kmsg" \
  -drive "file=$IMG,format=raw,if=virtio,snapshot=on" \
  -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:80" \
  -device virtio-net-pci,netdev=n0,romfile= </dev/null &
qemu_pid=$!
if ! wait_http "http://127.0.0.1:$port/healthz" "$BOOT_DEADLINE" "$qemu_pid"; then
  tail -n 60 "$work/console.log" >&2
  echo "FAIL: waitless did not answer in the booted image" >&2
  exit 1
fi
took "qemu-system boot to /healthz" "$start"
health=$(curl -fsS "http://127.0.0.1:$port/healthz")
echo "   /healthz: $health"
echo "$health" | grep -q '"status":"ok"' || { echo "FAIL: /healthz not ok" >&2; exit 1; }
page=$(curl -fsS "http://127.0.0.1:$port/display")
case "$page" in *"<html"*|*"<HTML"*) echo "   ok: /display" ;; *) echo "FAIL: /display" >&2; exit 1 ;; esac
# Type=notify: systemd reports "Started" only once waitless has sent READY=1.
end=$(( $(now) + 60 ))
until grep -a -q 'Started .*waitless.service' "$work/console.log"; do
  [ "$(now)" -lt "$end" ] || { echo "FAIL: systemd never saw READY=1 from waitless" >&2; exit 1; }
  sleep 1
done
echo "   ok: systemd started waitless.service (READY=1 received)"
# Units that failed during the boot (the console shows systemd's status lines).
failed=$(grep -a -E 'FAILED|DEPEND' "$work/console.log" || true)
if [ -n "$failed" ]; then
  echo "$failed" | sed 's/^/   console: /'
  echo "FAIL: units failed during the boot" >&2
  exit 1
fi
echo "   ok: no unit failed during the boot"
if grep -a -q 'Finished .*waitless-setup' "$work/console.log"; then
  echo "   ok: waitless-setup.txt read from the FAT partition"
else
  echo "FAIL: waitless-setup.service did not run" >&2
  exit 1
fi
grep -a -E 'waitless' "$work/console.log" | tail -n 8 | sed 's/^/   console: /' || true
kill "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
echo "== test-image: all checks passed"
