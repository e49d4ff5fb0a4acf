#!/usr/bin/env bash
# End-to-end against a real OpenTelemetry backend: the chatbot example exports OTLP to Arize
# Phoenix, and the spans read back through Phoenix's REST API must have our names, parent
# links, gen_ai.* attributes and evaluation events.
#
# Phoenix installs from PyPI into a virtual environment this script makes (cached in the
# cargo target directory). It runs inside a private network namespace (`unshare -n`,
# loopback only), since its gRPC port binds every interface otherwise.
#
#   bash tests/e2e/phoenix.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/e2e"

if [ "${1:-}" = "--inside" ]; then
  # In the namespace: only loopback exists.
  ip link set lo up
  venv=$2 example=$3 out=$4
  work=$(mktemp -d)
  export PHOENIX_WORKING_DIR="$work" PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=6006 PHOENIX_GRPC_PORT=4317
  "$venv/bin/phoenix" serve > "$work/phoenix.log" 2>&1 &
  phoenix=$!
  trap 'kill $phoenix 2>/dev/null; wait $phoenix 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null http://127.0.0.1:6006/healthz && break
    kill -0 $phoenix 2>/dev/null || { cat "$work/phoenix.log"; echo "phoenix died" >&2; exit 1; }
    sleep 0.5
  done
  curl -sf -o /dev/null http://127.0.0.1:6006/healthz || { tail -40 "$work/phoenix.log"; echo "phoenix did not start" >&2; exit 1; }
  echo "phoenix is up; running the chatbot example with OTEL_EXPORTER_OTLP_ENDPOINT set"
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 OTEL_SERVICE_NAME=chatbot-e2e "$example" > "$work/example.log" 2>&1 \
    || { cat "$work/example.log"; exit 1; }
  tail -3 "$work/example.log"
  # Phoenix stores spans asynchronously: poll until the whole trace is there.
  for _ in $(seq 1 60); do
    curl -sf 'http://127.0.0.1:6006/v1/projects/default/spans?limit=1000' > "$out" || true
    python3 "$here/check_phoenix.py" "$out" --count-only && break
    sleep 0.5
  done
  exit 0
fi

target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/phoenix-venv"
if [ ! -x "$venv/bin/phoenix" ]; then
  echo "installing arize-phoenix into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'arize-phoenix==20.26.1'
fi
(cd "$root" && cargo build --quiet --example chatbot)
example="$target/debug/examples/chatbot"
out=$(mktemp)
unshare -n bash "$0" --inside "$venv" "$example" "$out"
python3 "$here/check_phoenix.py" "$out"
rm -f "$out"
