#!/usr/bin/env bash
# Render a report.html (or a run folder's report.html) to a PNG with headless Chromium, to LOOK at it.
# Usage: scripts/screenshot_report.sh RUN_DIR_OR_HTML [OUT.png] [WIDTHxHEIGHT]
#   default OUT: <html dir>/report_screenshot.png, default size 1280x3000.
# Needs Debian's chromium (apt-get install -y chromium); no network is used (file:// URL, networking disabled).
set -euo pipefail
src=${1:?usage: $0 RUN_DIR_OR_HTML [OUT.png] [WIDTHxHEIGHT]}
if [[ -d "$src" ]]; then html="$src/report.html"; else html="$src"; fi
[[ -f "$html" ]] || { echo "error: $html not found (run: safetyalign report RUN_DIR)" >&2; exit 2; }
html=$(realpath "$html")
out=${2:-"$(dirname "$html")/report_screenshot.png"}
size=${3:-1280x3000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$browser" ]] || { echo "error: chromium not found (apt-get install -y chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --screenshot="$(realpath -m "$out")" --window-size="${size/x/,}" "file://$html" >/dev/null 2>&1
[[ -s "$out" ]] || { echo "error: no screenshot written to $out" >&2; exit 1; }
echo "$out"
