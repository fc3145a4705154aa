#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` must print nothing at all (it only warns
# on typos and exits 0), and `systemd-analyze security --offline=true` scores waitless.service
# (fails above MAX_EXPOSURE). The units name /usr/bin/waitless, cage and chromium, which need
# not exist on the machine that checks them: verify runs on copies that point at stubs.
# Usage: image/verify-units.sh            (from any directory)
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/units"
for exe in waitless cage chromium waitless-setup; do
  printf '#!/bin/sh\nexit 0\n' >"$work/bin/$exe"
  chmod +x "$work/bin/$exe"
done
units=(systemd/waitless.service systemd/waitless-kiosk.service image/rootfs/etc/systemd/system/waitless-setup.service)
for unit in "${units[@]}"; do
  [ -f "$unit" ] || continue
  sed -e "s|/usr/bin/waitless|$work/bin/waitless|g" \
      -e "s|/usr/bin/cage|$work/bin/cage|g" \
      -e "s|/usr/bin/chromium|$work/bin/chromium|g" \
      -e "s|/usr/local/sbin/waitless-setup|$work/bin/waitless-setup|g" \
      "$unit" >"$work/units/$(basename "$unit")"
done

echo "== systemd-analyze verify (must print nothing)"
out=$(cd "$work/units" && systemd-analyze verify ./*.service 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "$out" >&2
  echo "systemd-analyze verify printed warnings: fix the units" >&2
  exit 1
fi
echo "   ok: $(cd "$work/units" && ls | tr '\n' ' ')"

echo "== systemd-analyze security --offline=true waitless.service"
report=$(systemd-analyze security --offline=true --no-pager "$work/units/waitless.service" 2>&1)
score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
printf '%s\n' "$report" | grep -E '^✗' | sed 's/^/   /' || true
echo "   exposure $score (0 = locked down, 10 = unprotected; at most $MAX_EXPOSURE allowed)"
if [ -z "$score" ] || awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN{exit !(s>m)}'; then
  echo "waitless.service is less hardened than allowed" >&2
  exit 1
fi
