#!/usr/bin/env bash
# Render a recon report in headless Chromium, offline, and cut it into screenshots;
# Chromium's network log shows whether the page asked for anything (exit 1 if it did).
#   docs/screenshot.sh REPORT.html OUT_DIR
# Needs Debian's chromium and fonts-noto-cjk, ImageMagick and python3.
set -euo pipefail
report=$(realpath "$1"); out=$2; mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shoot() {  # URL NETLOG PNG
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile-$RANDOM" --hide-scrollbars --window-size=1280,16000 \
    --log-net-log="$2" --net-log-capture-mode=Everything --screenshot="$3" "$1" 2>/dev/null
}
shoot "file://$report" "$work/report.json" "$out/full.png"
python3 - "$work/report.json" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
try:
    log = json.loads(text)
except ValueError:  # Chromium may leave the log unterminated
    log = json.loads(text.rstrip().rstrip(",") + "]}")
# Chromium's own background calls have no origin; anything the page asks for has one.
page = sorted({p["url"] for e in log.get("events", []) if (p := e.get("params") or {})
               and "url" in p and p.get("initiator") not in (None, "not an origin")})
print("requests made by the page:", ", ".join(page) or "none")
sys.exit(1 if page else 0)
PY
# Cut the tall page into screen-sized parts, dropping the blank tail.
/usr/bin/convert "$out/full.png" -trim +repage "$out/full.png"
/usr/bin/convert "$out/full.png" -crop 1280x1600 +repage "$out/part-%02d.png"
rm "$out/full.png"
ls "$out"
