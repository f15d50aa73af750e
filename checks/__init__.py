"""Validation rules for the three feeds, written to be read by auditors.

- `rules.py`: the row rules shared by the feeds, each a Polars expression that is true
  where a row passes.
- `pop.py`, `hosp.py`, `police.py`: which rules apply to each feed, and how severe a
  failure is. QUARANTINE rejects the row (it cannot be a record at all); WARNING keeps
  the row and records a finding on the field (a readable value that fails a check is
  exactly what reconciliation must find and correct).
- `expectations.py`: feed-level Great Expectations suites (uniqueness, completeness,
  row count, unknown sex, sex ratio).

Each feed module exposes `rules(ctx) -> list[Rule]`; `rules.schema(...)` turns them into a
Pandera (polars backend) schema that returns every failing row.
"""
