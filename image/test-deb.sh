#!/usr/bin/env bash
# Tests the Debian packages on this machine (as root; leaves it as it found it):
#  1. builds both .debs (image/build-deb.sh; incremental);
#  2. `dpkg -i` the amd64 one and checks: the files, the conffile, the waitless user and its
#     groups, the enabled unit, `systemd-analyze verify` of the installed units, `check-config`
#     of the shipped settings;
#  3. runs the installed binary as the waitless user with the unit's ExecStart (systemd is
#     not PID 1 here: setpriv plays its part — user, groups, no new privileges, the state
#     directory, NOTIFY_SOCKET and WATCHDOG_USEC) on a free port of 127.0.0.1, checks
#     /healthz, /display, READY=1 and WATCHDOG=1, and stops it by its PID (SIGTERM, exit 0);
#  4. `dpkg -r` (data and settings kept), then `dpkg --purge` (all gone). The users stay
#     after a purge, as Debian policy wants; this test then deletes them (and the gpio group)
#     if it created them;
#  5. runs the arm64 binary under qemu-aarch64-static and checks /healthz.
# Usage: image/test-deb.sh      (SKIP_BUILD=1: use the .debs already in target/deb)
set -euo pipefail
cd "$(dirname "$0")/.."
. image/lib.sh

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { local what=$1; shift; if "$@" >/dev/null; then echo "   ok: $what"; else fail "$what"; fi; }

if [ "$(id -u)" != 0 ]; then fail "run as root (dpkg)"; fi
if dpkg-query -W -f='${Status}' waitless 2>/dev/null | grep -q 'install ok'; then
  fail "a waitless package is installed on this machine: this test would replace it"
fi
ensure_packages qemu-user-static curl file
if [ -z "${SKIP_BUILD:-}" ]; then image/build-deb.sh amd64 arm64; fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
deb=target/deb/waitless_${version}-1_amd64.deb
arm_bin=target/aarch64-debian/aarch64-unknown-linux-gnu/release/waitless
[ -f "$deb" ] || fail "$deb is missing"
[ -x "$arm_bin" ] || fail "$arm_bin is missing"
for d in target/deb/waitless_${version}-1_amd64.deb target/deb/waitless_${version}-1_arm64.deb; do
  scripts=$(mktemp -d)
  dpkg-deb -e "$d" "$scripts"
  for s in postinst prerm postrm; do
    check "$(basename "$d"): $s is valid sh" sh -n "$scripts/$s"
  done
  rm -rf "$scripts"
done

# What existed before, so the cleanup removes only what this test created.
had_user=$(getent passwd waitless >/dev/null && echo 1 || echo 0)
had_kiosk=$(getent passwd waitless-kiosk >/dev/null && echo 1 || echo 0)
had_gpio=$(getent group gpio >/dev/null && echo 1 || echo 0)
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if dpkg-query -W -f='${Status}' waitless 2>/dev/null | grep -q 'install ok\|config-files'; then
    dpkg --purge waitless >/dev/null 2>&1 || true
  fi
  if [ "$had_user" = 0 ] && getent passwd waitless >/dev/null; then userdel waitless 2>/dev/null || true; fi
  if [ "$had_kiosk" = 0 ] && getent passwd waitless-kiosk >/dev/null; then userdel waitless-kiosk 2>/dev/null || true; fi
  if [ "$had_gpio" = 0 ] && getent group gpio >/dev/null; then groupdel gpio 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== dpkg -i $deb"
start=$(now)
dpkg -i "$deb" | tee "$work/install.log"
took "dpkg -i" "$start"
check "package installed" dpkg-query -W -f='${Status}' waitless
for f in /usr/bin/waitless /etc/waitless/config.toml /usr/lib/systemd/system/waitless.service \
         /usr/lib/systemd/system/waitless-kiosk.service /usr/lib/sysusers.d/waitless.conf \
         /usr/lib/udev/rules.d/60-waitless.rules /usr/lib/modules-load.d/waitless.conf \
         /usr/share/doc/waitless/install.md /usr/share/doc/waitless/config.example.toml; do
  check "file $f" test -f "$f"
done
check "binary is executable" test -x /usr/bin/waitless
check "/etc/waitless/config.toml is a conffile" \
  sh -c "dpkg-query -W -f='\${Conffiles}' waitless | grep -q '/etc/waitless/config.toml'"
check "user waitless (home /var/lib/waitless, no login shell)" \
  sh -c 'getent passwd waitless | grep -Eq ":/var/lib/waitless:(/usr/sbin/nologin|/sbin/nologin)$"'
for g in lp dialout input gpio audio; do
  check "waitless is in group $g" sh -c "id -nG waitless | tr ' ' '\n' | grep -qx $g"
done
check "user waitless-kiosk" getent passwd waitless-kiosk
check "waitless.service enabled" test -L /etc/systemd/system/multi-user.target.wants/waitless.service
check "waitless-kiosk.service not enabled" test ! -e /etc/systemd/system/graphical.target.wants/waitless-kiosk.service
check "postinst says how to start it without systemd" grep -q "systemd is not running here" "$work/install.log"
verify=$(systemd-analyze verify /usr/lib/systemd/system/waitless.service 2>&1 || true)
check "systemd-analyze verify of the installed unit prints nothing" test -z "$verify"
check "check-config accepts the shipped settings" \
  sh -c '/usr/bin/waitless check-config --config /etc/waitless/config.toml | grep -q "configuration OK"'

echo "== the installed binary as the waitless user, with the unit's ExecStart"
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/waitless.service)
watchdog_sec=$(sed -n 's/^WatchdogSec=\([0-9]*\)s$/\1/p' /usr/lib/systemd/system/waitless.service)
[ -n "$exec_start" ] && [ -n "$watchdog_sec" ] || fail "cannot read ExecStart/WatchdogSec"
echo "   ExecStart=$exec_start   WatchdogSec=${watchdog_sec}s"
# StateDirectory=waitless, StateDirectoryMode=0750
install -d -o waitless -g waitless -m 0750 /var/lib/waitless
port=$(free_port)
# A stand-in for systemd's notify socket: records each datagram as a line.
python3 - "$work/notify.sock" "$work/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ").strip() + "\n")
PY
pids+=($!)
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done
start=$(now)
# shellcheck disable=SC2086 # ExecStart is split into words, as systemd does.
env -i PATH=/usr/bin:/bin NOTIFY_SOCKET="$work/notify.sock" \
  WATCHDOG_USEC=$((watchdog_sec * 1000000)) WAITLESS_BIND="127.0.0.1:$port" \
  setpriv --reuid=waitless --regid=waitless --init-groups --no-new-privs --inh-caps=-all \
  $exec_start >"$work/server.log" 2>&1 &
server=$!
pids+=($server)
if ! wait_http "http://127.0.0.1:$port/healthz" 60 "$server"; then cat "$work/server.log"; fail "no /healthz"; fi
took "start (installed binary)" "$start"
health=$(curl -fsS "http://127.0.0.1:$port/healthz")
echo "   /healthz: $health"
check "/healthz says ok" sh -c "echo '$health' | grep -q '\"status\":\"ok\"'"
check "/display answers with the page" sh -c "curl -fsS http://127.0.0.1:$port/display | grep -qi '<html'"
check "runs as waitless" sh -c "[ \"\$(ps -o user= -p $server)\" = waitless ]"
check "the database is in /var/lib/waitless, owned by waitless" \
  sh -c '[ "$(stat -c %U /var/lib/waitless/waitless.redb)" = waitless ]'
for _ in $(seq 100); do grep -q 'READY=1' "$work/notify.log" 2>/dev/null && break; sleep 0.1; done
check "READY=1 sent" grep -q 'READY=1' "$work/notify.log"
check "WATCHDOG=1 sent" grep -q 'WATCHDOG=1' "$work/notify.log"
check "the setup code is logged" grep -q 'one-time code' "$work/server.log"
kill -TERM "$server"
status=0
wait "$server" || status=$?
pids=("${pids[0]}")
check "SIGTERM: clean exit (status $status)" test "$status" = 0
check "STOPPING=1 sent" grep -q 'STOPPING=1' "$work/notify.log"

echo "== dpkg -r (keeps data and settings)"
dpkg -r waitless >/dev/null
check "binary removed" test ! -e /usr/bin/waitless
check "unit removed" test ! -e /usr/lib/systemd/system/waitless.service
check "data kept" test -f /var/lib/waitless/waitless.redb
check "settings kept" test -f /etc/waitless/config.toml
echo "== dpkg --purge"
dpkg --purge waitless >/dev/null
check "package gone" sh -c "! dpkg-query -W -f='\${Status}' waitless 2>/dev/null | grep -q ."
check "data gone" test ! -e /var/lib/waitless
check "settings gone" test ! -e /etc/waitless
check "enable link gone" test ! -e /etc/systemd/system/multi-user.target.wants/waitless.service
check "udev rules gone" test ! -e /usr/lib/udev/rules.d/60-waitless.rules
echo "   note: the waitless users stay after a purge (Debian policy); this test removes them"

echo "== arm64 binary under qemu-aarch64-static"
check "arm64 ELF" sh -c "file -L '$arm_bin' | grep -q 'ARM aarch64'"
port=$(free_port)
mkdir -p "$work/arm-data"
start=$(now)
qemu-aarch64-static "$arm_bin" --data "$work/arm-data" --bind "127.0.0.1:$port" >"$work/arm.log" 2>&1 &
arm=$!
pids+=($arm)
if ! wait_http "http://127.0.0.1:$port/healthz" 180 "$arm"; then cat "$work/arm.log"; fail "arm64: no /healthz"; fi
took "arm64 start under qemu-user" "$start"
echo "   /healthz: $(curl -fsS "http://127.0.0.1:$port/healthz")"
check "arm64 /display" sh -c "curl -fsS http://127.0.0.1:$port/display | grep -qi '<html'"
kill -TERM "$arm"
status=0
wait "$arm" || status=$?
pids=("${pids[0]}")
check "arm64: clean exit on SIGTERM (status $status)" test "$status" = 0
echo "== test-deb: all checks passed"
