#!/usr/bin/env bash
# Writes the /etc/waitless/config.toml the Debian package ships (image/debian/config.toml):
# config.example.toml with the appliance's values — port 80, the data folder under
# /var/lib/waitless. `image/make-config.sh --check` fails when the committed file is stale
# (image/ci.sh runs it), so the example stays the one place keys are documented.
set -euo pipefail
cd "$(dirname "$0")/.."
out=image/debian/config.toml
generate() {
  cat <<'HEAD'
# /etc/waitless/config.toml — the settings of this waitless box (installed by the Debian
# package; your changes are kept on upgrade). After a change: `sudo waitless check-config
# --config /etc/waitless/config.toml`, then `sudo systemctl restart waitless`.
# The service runs `waitless --config /etc/waitless/config.toml --data /var/lib/waitless`:
# the --data flag wins over `data` below. docs/install.md and docs/configuration.md explain.
#
HEAD
  sed -e 's|^bind = "0.0.0.0:8080"$|bind = "0.0.0.0:80"|' \
      -e 's|^data = "./data"$|data = "/var/lib/waitless"|' \
      config.example.toml
}
if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$out" <(generate); then
    echo "$out is stale: run image/make-config.sh and commit it" >&2
    exit 1
  fi
else
  generate >"$out"
fi
grep -q '^bind = "0.0.0.0:80"$' "$out" && grep -q '^data = "/var/lib/waitless"$' "$out" || {
  echo "config.example.toml changed its bind/data lines: update image/make-config.sh" >&2
  exit 1
}
