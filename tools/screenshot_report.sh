#!/usr/bin/env bash
# Screenshot a report.html, or a page the sandbox serves on loopback, in headless Chromium.
#   tools/screenshot_report.sh [REPORT_HTML | http://127.0.0.1:PORT/PATH] [OUT_PNG]
# Without an argument it makes demo media and runs `python -m ml_service analyze` on them first.
# OUT_PNG defaults to report.png next to the report (screenshot.png for a URL). WIDTH (1280) and
# HEIGHT (2400) set the window; COLORS=N re-saves the PNG with N colours (Pillow), for small
# images to commit (docs/).
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

target=${1:-}
if [ -z "$target" ]; then
    work=$(mktemp -d)
    "$PY" -c "import sys; from pathlib import Path; from ml_service.sandbox.demo_media import make_demo_media; make_demo_media(Path(sys.argv[1]), 12)" "$work"
    "$PY" -m ml_service.local.analyze "$work/webcam/webcam.mp4" "$work/screencast/screencast.mp4" \
        "$work/audio/microphone.wav" --session-id demo --out "$work/out" || true
    target=$work/out/report.html
fi
case "$target" in
    http://127.0.0.1:*|http://localhost:*) url=$target; out=${2:-screenshot.png} ;;
    http*) echo "screenshot_report: only loopback pages (http://127.0.0.1:PORT/...)" >&2; exit 2 ;;
    *) [ -f "$target" ] || { echo "screenshot_report: no such report: $target" >&2; exit 2; }
       url="file://$(realpath "$target")"; out=${2:-$(dirname "$target")/report.png} ;;
esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# --no-sandbox: Chromium refuses to run as root otherwise. The resolver rule makes any request
# for a named host fail (loopback addresses are not looked up), and the --disable-* and
# --no-first-run flags keep Chromium from calling home, so the picture shows only the page.
"$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost" \
    --window-size="${WIDTH:-1280},${HEIGHT:-2400}" --screenshot="$out" "$url" >/dev/null 2>&1
if [ -n "${COLORS:-}" ]; then
    "$PY" -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').quantize(int(sys.argv[2])).save(sys.argv[1], optimize=True)" "$out" "$COLORS"
fi
echo "$out"
