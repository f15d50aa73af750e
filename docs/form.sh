#!/usr/bin/env bash
# Print the field form (现场核实表) of an exported worklist through LibreOffice, as a
# township would print it, and cut the PDF into PNG pages to look at.
#   docs/form.sh WORKLIST.xlsx OUT_DIR [PAGES]     (PAGES: how many to keep, default 3)
# The PDF goes beside the workbook (WORKLIST.pdf), the PNGs to OUT_DIR/form-NN.png.
# Needs Debian's libreoffice-calc, poppler-utils, fonts-noto-cjk and ImageMagick; runs the
# project's Python (openpyxl) from .venv.
set -euo pipefail
book=$(realpath "$1"); out=$2; pages=${3:-3}; mkdir -p "$out"
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Excel and WPS print the active sheet, the form, by default; LibreOffice's PDF export
# prints every sheet and counts them all in 共 N 页. So print a copy holding the form alone.
"$here/.venv/bin/python" - "$book" "$work/form.xlsx" <<'PY'
import sys
import openpyxl
book = openpyxl.load_workbook(sys.argv[1])
for sheet in book.worksheets[1:]:
    book.remove(sheet)
book.save(sys.argv[2])
PY
# A throwaway profile: the user's own LibreOffice (and its lock) is left alone. pdffonts
# names the CJK font NotoSansCJKjp: the Noto CJK collection shares one CFF (and its name)
# between its languages; the glyphs drawn are the Simplified Chinese ones.
soffice -env:UserInstallation="file://$work/profile" --headless \
  --convert-to pdf --outdir "$work" "$work/form.xlsx" >/dev/null 2>&1
cp "$work/form.pdf" "${book%.*}.pdf"
total=$(pdfinfo "$work/form.pdf" | awk '/^Pages:/ {print $2}')
pdffonts "$work/form.pdf" | awk 'NR > 2 {print "font:", $1}' | sort -u
# One page per case (the title may take a page of its own): a page more than the manual
# breaks make means LibreOffice broke a case by itself.
planned=$("$here/.venv/bin/python" -c "
import openpyxl, sys
print(len(openpyxl.load_workbook(sys.argv[1]).worksheets[0].row_breaks.brk) + 1)" "$work/form.xlsx")
echo "pages: $total, pages planned: $planned"
pdftoppm -png -r 70 -f 1 -l "$pages" "$work/form.pdf" "$out/form"
for png in "$out"/form-*.png; do
  /usr/bin/convert "$png" +dither -colors 64 "$png"  # a few kB; no dither on the grey fills
done
ls -l "$out"
[ "$total" -eq "$planned" ] || { echo "a case was split across pages" >&2; exit 1; }
