"""The one masker of identity numbers, for every output a person reads.

Policy (README, "Identity numbers"): what people read — worklist workbooks and CSV
exports, the field form, the report, import problems — shows 420607********1234 unless
`--full-id`; the files systems read — out/worklist.csv, quarantine.csv,
corrected_pop.csv, corrections.csv, the notices to police and hospital — hold them in
full, because they are keys the receiving system matches on. Logs never hold them.
"""

from __future__ import annotations

import re

# Identity numbers as they arrive: 15 or 18 characters, ASCII or full-width digits, possibly
# spaced, sometimes with a mistyped letter. Hand-written because no library masks free text;
# keeps the first 6 and last 4 characters, as worklists do.
_ALNUM = "0-9０-９A-Za-zＡ-Ｚａ-ｚ"
# Up to 20 characters: a quarantined value may be a number with a character too many.
_ID_LIKE = re.compile(rf"(?<![{_ALNUM}])[0-9０-９](?:[ \u3000]?[{_ALNUM}]){{14,19}}(?![{_ALNUM}])")


def mask_ids(text: str) -> str:
    """420607********1234: every identity number in `text` with its middle hidden."""

    def hide(match: re.Match[str]) -> str:
        chars = [c for c in match.group(0) if not c.isspace()]
        digits = sum(c.isdigit() for c in chars)  # full-width digits count too
        if not 15 <= len(chars) <= 20 or digits < len(chars) - 2:
            return match.group(0)
        return "".join(chars[:6]) + "*" * (len(chars) - 10) + "".join(chars[-4:])

    return _ID_LIKE.sub(hide, text)
