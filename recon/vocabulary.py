"""The Chinese words for recon's canonical names, defined once for every output."""

from __future__ import annotations

FEED_LABELS = {"pop": "全员人口", "hosp": "住院分娩", "police": "公安户籍"}
CATEGORY_LABELS = {
    "missing": "漏报",
    "misreported": "错报",
    "fictitious": "虚报",
    "duplicate": "重报",
}
