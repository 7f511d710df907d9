#!/usr/bin/env bash
# Screenshot a report.html in headless Chromium, with every network request refused.
#   tools/screenshot_report.sh [REPORT_HTML] [OUT_PNG]
# Without REPORT_HTML it makes demo media and runs `python -m ml_service analyze` on them first.
# OUT_PNG defaults to report.png next to the report; HEIGHT (default 2400) sets the page height.
# Needs the Debian package chromium (apt-get install chromium); it is not a test dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "screenshot_report: Chromium not found; install it with: apt-get install chromium" >&2
    exit 2
fi

report=${1:-}
if [ -z "$report" ]; then
    work=$(mktemp -d)
    "$PY" -c "import sys; from pathlib import Path; from ml_service.demo_media import make_demo_media; make_demo_media(Path(sys.argv[1]), 12)" "$work"
    "$PY" -m ml_service.analyze "$work/webcam/webcam.mp4" "$work/screencast/screencast.mp4" \
        "$work/audio/microphone.wav" --session-id demo --out "$work/out" || true
    report=$work/out/report.html
fi
[ -f "$report" ] || { echo "screenshot_report: no such report: $report" >&2; exit 2; }
out=${2:-$(dirname "$report")/report.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# --no-sandbox: Chromium refuses to run as root otherwise. The resolver rule makes any
# request for a network resource fail, so the picture shows what the report holds itself.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --disable-background-networking --host-resolver-rules="MAP * ~NOTFOUND" \
    --window-size="1280,${HEIGHT:-2400}" --screenshot="$out" "file://$(realpath "$report")" >/dev/null 2>&1
echo "$out"
