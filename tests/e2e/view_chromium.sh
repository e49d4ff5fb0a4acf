#!/usr/bin/env bash
# The HTML view in a real browser (headless Chromium): the chatbot example writes its trace as
# OTLP/JSON lines and as a page; the page is opened with a span clicked (through the URL hash,
# which clicks the span's row), and the DOM is checked against the lines: one row per span,
# nested under its parent, and the clicked span's messages and cost in the details. A
# screenshot is kept, and the load time of 1,000 traces and of a 500-span trace is measured.
#
#   bash tests/e2e/view_chromium.sh [artifacts dir]     (default: target/view-artifacts)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/view-artifacts}
mkdir -p "$out"
out=$(cd "$out" && pwd)
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$browser" ] || { echo "no chromium found (set CHROMIUM)" >&2; exit 1; }

cd "$root"
cargo build -q --example chatbot
cargo build -q -p modelmetry-cli
bin=${CARGO_TARGET_DIR:-$root/target}/debug

rm -f "$out/chatbot.jsonl" "$out/chatbot.html"
said=$(MODELMETRY_FILE="$out/chatbot.jsonl" MODELMETRY_HTML="$out/chatbot.html" \
  "$bin/examples/chatbot" 2>&1)
grep -q "trace view: $out/chatbot.html" <<<"$said" || { printf '%s\n' "$said"; echo "the example did not print its page" >&2; exit 1; }

python3 "$root/tests/e2e/check_view.py" "$browser" "$out" "$bin/modelmetry"
