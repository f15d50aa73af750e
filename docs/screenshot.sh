#!/usr/bin/env bash
# Render a recon report in headless Chromium with the network shut, and cut it into
# screenshots: docs/screenshot.sh REPORT.html OUT_DIR
# Needs Debian's chromium (apt-get install chromium fonts-noto-cjk) and ImageMagick.
set -euo pipefail
report=$(realpath "$1"); out=$2; mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No proxy that answers: any request the page made would fail and show as a gap.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --proxy-server="127.0.0.1:9" --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1280,16000 --screenshot="$out/full.png" "file://$report" 2>/dev/null
# Cut the tall page into screen-sized parts, dropping the blank tail.
/usr/bin/convert "$out/full.png" -trim +repage "$out/full.png"
/usr/bin/convert "$out/full.png" -crop 1280x1600 +repage "$out/part-%02d.png"
ls "$out"
