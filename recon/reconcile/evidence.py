"""The evidence policy: which source decides a field, and how sure a finding is.

One policy for every finding, written down in docs/evidence.md and set in `[reconcile]`:

1. A value that fails its own check (an identity number with a wrong check character, a
   mother aged 9 by her number, a division code nobody knows) does not vote.
2. The value most sources hold wins: two agreeing sources beat one, whatever the order.
3. Between single witnesses the authority order of the field decides (feeds.md: the
   hospital is the best witness of sex, date and plurality; the police of the child's
   identity number and name).
4. A heuristic (the father's surname) never changes the winner: where it disagrees with
   the authority, the case keeps the authority's value, says so in its evidence and is
   listed with a lower confidence.

Confidence is a per-kind figure measured on generated feeds of several error mixes
(bench/accuracy.py prints the reliability table): among cases listed with confidence c,
about a share c is right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Feeds that carry each field, best witness first (feeds.md). A configured order must name
# exactly these feeds.
DEFAULT_AUTHORITY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "sex": ("hosp", "police", "pop"),
        "birth_date": ("hosp", "police", "pop"),
        "mother_id": ("hosp", "police", "pop"),
        "id_number": ("police", "pop"),
        "name": ("police", "pop"),
        "birth_order": ("hosp", "pop"),
        "division_code": ("police", "hosp", "pop"),
        "certificate_no": ("hosp", "police"),
    }
)

# How sure each kind of finding is. Measured: bench/README.md, "Reliability".
DEFAULT_CONFIDENCE: Mapping[str, float] = MappingProxyType(
    {
        # misreported: two or more sources agree against the target
        "agreed": 0.99,
        # misreported: the target's own value fails its check; one valid witness remains
        "target_invalid": 0.98,
        # misreported: one witness against the target, decided by the authority order
        "authority": 0.89,
        # ... and a heuristic (the father's surname) sides with the target
        "authority_doubted": 0.1,
        # misreported division: another township; a misreport, or the family moved
        "other_township": 0.6,
        # missing: seen by the hospital and the police / by one of them
        "missing_two_witnesses": 0.99,
        "missing_one_witness": 0.98,
        # fictitious: a registered stillbirth / no witness, past the police deadline /
        # no witness, but younger than the police deadline
        "stillbirth": 0.97,
        "unwitnessed": 0.55,
        "unwitnessed_young": 0.1,
        "duplicate": 0.97,
        "twin_rank": 0.97,
    }
)


@dataclass(frozen=True)
class EvidencePolicy:
    authority: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_AUTHORITY)
    confidence: Mapping[str, float] = field(default_factory=lambda: DEFAULT_CONFIDENCE)
    mother_age_min: int = 12
    mother_age_max: int = 60

    def order(self, name: str) -> tuple[str, ...]:
        return self.authority.get(name, DEFAULT_AUTHORITY[name])

    def of(self, kind: str) -> float:
        return float(self.confidence.get(kind, DEFAULT_CONFIDENCE[kind]))


def check_authority(authority: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """A configured `[reconcile.authority]`: each field's feeds, best first, or ValueError."""
    orders: dict[str, tuple[str, ...]] = {}
    for name, value in authority.items():
        if name not in DEFAULT_AUTHORITY:
            raise ValueError(
                f"[reconcile.authority] {name}: not a reconciled field "
                f"(one of {', '.join(DEFAULT_AUTHORITY)})"
            )
        carried = DEFAULT_AUTHORITY[name]
        if not isinstance(value, list) or sorted(map(str, value)) != sorted(carried):
            raise ValueError(
                f"[reconcile.authority] {name}: list each of {', '.join(carried)} once, "
                "best witness first"
            )
        orders[name] = tuple(str(v) for v in value)
    return orders


def check_confidence(confidence: Mapping[str, object]) -> dict[str, float]:
    """A configured `[reconcile.confidence]`: known kinds, each a number in 0..1."""
    values: dict[str, float] = {}
    for kind, value in confidence.items():
        if kind not in DEFAULT_CONFIDENCE:
            raise ValueError(
                f"[reconcile.confidence] {kind}: unknown kind "
                f"(one of {', '.join(DEFAULT_CONFIDENCE)})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"[reconcile.confidence] {kind}: a number from 0 to 1")
        values[kind] = float(value)
    return values
