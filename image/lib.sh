# Shared by the image/ scripts (sourced, not run).

# Installs the Debian packages given that are missing, with `apt-get update` first only when
# something is missing. Packages may carry an architecture (libstd-rust-web-dev:arm64).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "   installing: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# Seconds since the epoch, for stage timings.
now() { date +%s; }

# Prints "== STAGE took Ns" and appends it to $TIMINGS (if set).
took() {
  local stage=$1 start=$2 secs
  secs=$(( $(now) - start ))
  echo "== $stage took ${secs}s"
  if [ -n "${TIMINGS:-}" ]; then echo "$stage: ${secs}s" >>"$TIMINGS"; fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls URL until it answers 200 or DEADLINE (seconds) passes; stops early if PID died.
wait_http() {
  local url=$1 deadline=$2 pid=${3:-} end=$(( $(now) + $2 ))
  while [ "$(now)" -lt "$end" ]; do
    if curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before $url answered" >&2
      return 1
    fi
    sleep 1
  done
  echo "$url did not answer within ${deadline}s" >&2
  return 1
}
