"""The six sign-offs (六签字): worklist export and import, the status machine, apply.

- `common`: labels, the status machine (`transition`) and what every step shares;
- `export`: the worklist handed out for signing;
- `importer`: the signed worklist taken back in, row by row;
- `apply`: approved cases become corrections of the register and notices.

Every function takes a connection inside a transaction the caller manages and returns a
frozen dataclass; nothing here prints.
"""

from recon.masking import mask_ids as mask_id
from recon.signoff.apply import apply
from recon.signoff.common import (
    AGREE,
    DISAGREE,
    ApplyResult,
    ExportResult,
    ImportResult,
    RowProblem,
    Signature,
    SignoffError,
    division_prefix,
    fingerprint,
    status_violations,
    transition,
)
from recon.signoff.export import export_worklist
from recon.signoff.importer import import_worklist
from recon.vocabulary import CATEGORY_LABELS, FEED_LABELS, FIELD_ZH, STATUS_ZH

__all__ = [
    "AGREE",
    "CATEGORY_LABELS",
    "DISAGREE",
    "FEED_LABELS",
    "FIELD_ZH",
    "STATUS_ZH",
    "ApplyResult",
    "ExportResult",
    "ImportResult",
    "RowProblem",
    "Signature",
    "SignoffError",
    "apply",
    "division_prefix",
    "export_worklist",
    "fingerprint",
    "import_worklist",
    "mask_id",
    "status_violations",
    "transition",
]  # fmt: skip
