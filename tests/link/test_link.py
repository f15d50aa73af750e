"""Linkage on small hand-made record frames: the misses fixed, and twins kept apart."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import (
    MOTHER_ID,
    MOTHER_ID_2,
    Recon,
    hosp_row,
    id_with_check,
    police_row,
    pop_row,
    write_csv,
    write_divisions,
)

from recon.link.exact import Linked, link, prepare

DAY = date(2024, 3, 5)
CHILD = id_with_check("42060720240305001")
CHILD_2 = id_with_check("42060720240305003")
VILLAGE = "420607101203"

_SCHEMA: dict[str, Any] = {
    "uid": pl.String, "feed": pl.String, "key": pl.String, "child_name": pl.String,
    "child_id": pl.String, "sex": pl.String, "birth_date": pl.Date, "mother_name": pl.String,
    "mother_id": pl.String, "division_code": pl.String, "birth_order": pl.Int32,
    "plurality": pl.Int32, "birth_rank": pl.Int32, "certificate_no": pl.String,
    "outcome": pl.String, "entered_on": pl.Date, "registration_type": pl.String,
    "father_name": pl.String,
}  # fmt: skip


def pop(key: str, **changes: Any) -> dict[str, Any]:
    row = {"feed": "pop", "key": key, "child_name": "张伟", "child_id": None, "sex": "M",
           "birth_date": DAY, "mother_name": "李娜", "mother_id": MOTHER_ID,
           "division_code": VILLAGE, "birth_order": 1, "entered_on": date(2024, 4, 1)}  # fmt: skip
    return {**row, **changes}


def hosp(key: str, **changes: Any) -> dict[str, Any]:
    row = {"feed": "hosp", "key": key, "sex": "M", "birth_date": DAY, "mother_name": "李娜",
           "mother_id": MOTHER_ID, "division_code": VILLAGE, "birth_order": 1, "plurality": 1,
           "birth_rank": 1, "certificate_no": None, "outcome": "活产",
           "entered_on": date(2024, 3, 6)}  # fmt: skip
    return {**row, **changes}


def police(key: str, **changes: Any) -> dict[str, Any]:
    row = {"feed": "police", "key": key, "child_name": "张伟", "child_id": key, "sex": "M",
           "birth_date": DAY, "mother_name": "李娜", "mother_id": MOTHER_ID,
           "division_code": VILLAGE, "certificate_no": None, "entered_on": date(2024, 5, 1),
           "registration_type": "出生登记"}  # fmt: skip
    return {**row, **changes}


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    full = [{c: r.get(c) for c in _SCHEMA} | {"uid": f"{r['feed']}:{r['key']}"} for r in rows]
    return prepare(pl.DataFrame(full, schema=_SCHEMA))


def births(linked: Linked) -> set[tuple[str | None, ...]]:
    """Each birth as (pop key, hosp key, police key)."""
    keys = linked.births.select(
        pl.col(f"{f}_uid").str.split(":").list.last() for f in ("pop", "hosp", "police")
    )
    return set(keys.rows())


def no_fuzzy(records: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(schema={"uid_l": pl.String, "uid_r": pl.String, "match_weight": pl.Float64})


def test_a_register_sex_typo_links_to_a_single_delivery() -> None:
    linked = link(frame(pop("P1", sex="F"), hosp("H1")))
    assert births(linked) == {("P1", "H1", None)}


def test_a_hospital_sex_typo_links_to_the_police_entry_of_a_single_delivery() -> None:
    linked = link(frame(hosp("H1", sex="F"), police(CHILD)))
    assert births(linked) == {(None, "H1", CHILD)}


def test_a_sex_typo_does_not_link_a_twin_delivery() -> None:
    # plurality 2: the other twin may be the girl the register names; no guessing
    linked = link(frame(pop("P1", sex="F"), hosp("H1", plurality=2)))
    assert births(linked) == {("P1", None, None), (None, "H1", None)}


def test_a_certificate_links_despite_a_police_date_typo_and_no_mother_id() -> None:
    rows = frame(
        hosp("H1", certificate_no="Q420012345"),
        police(CHILD, certificate_no="Q420012345", birth_date=date(2024, 3, 8), mother_id=None),
    )
    assert births(link(rows)) == {(None, "H1", CHILD)}


def test_a_name_written_differently_joins_the_birth_of_a_single_delivery() -> None:
    # 覃/谭: read qin and tan, written for one another; the hospital saw one baby
    rows = frame(
        pop("P1", child_name="覃若蕾", sex="F"),
        hosp("H1", sex="F", certificate_no="Q420012345"),
        police(CHILD_2, child_name="谭若蕾", sex="F", certificate_no="Q420012345"),
    )
    assert births(link(rows)) == {("P1", "H1", CHILD_2)}


def twins(*extra: dict[str, Any]) -> pl.DataFrame:
    return frame(
        hosp("H1", plurality=2, birth_rank=1, certificate_no="Q420000001"),
        hosp("H2", plurality=2, birth_rank=2, certificate_no="Q420000002"),
        *extra,
    )


def test_same_sex_twins_stay_two_births() -> None:
    rows = twins(
        pop("P1", child_name="张一"),
        pop("P2", child_name="张二"),
        police(CHILD, child_name="张一", certificate_no="Q420000001"),
        police(CHILD_2, child_name="张二", certificate_no="Q420000002"),
    )
    linked = link(rows)
    assert births(linked) == {("P1", "H1", CHILD), ("P2", "H2", CHILD_2)}
    assert linked.duplicates.is_empty()


def test_twins_a_register_name_that_differs_from_both_joins_neither() -> None:
    rows = twins(
        pop("P1", child_name="王五"),
        police(CHILD, child_name="张一", certificate_no="Q420000001"),
        police(CHILD_2, child_name="张二", certificate_no="Q420000002"),
    )
    assert ("P1", None, None) in births(link(rows))


def test_a_twin_register_record_goes_to_the_twin_of_its_name() -> None:
    # the division would favour H1 (H2's is known to the township only); the name is surer
    rows = twins(
        pop("P1", child_name="黄磊"),
        police(CHILD_2, child_name="黄蕾", certificate_no="Q420000002"),
    ).with_columns(
        pl.when(pl.col("uid") == "hosp:H2")
        .then(pl.lit("420607101000"))
        .otherwise(pl.col("division_code"))
        .alias("division_code")
    )
    assert births(link(rows)) == {("P1", "H2", CHILD_2), (None, "H1", None)}


def test_a_repeat_with_the_sex_mistyped_is_a_duplicate() -> None:
    rows = frame(
        pop("P1", child_id=CHILD, sex="F"),
        pop("P2", division_code="420607102001", entered_on=date(2024, 9, 1)),
        police(CHILD),
    )
    linked = link(rows)
    assert linked.duplicates.select("uid", "duplicate_of").rows() == [("pop:P2", "pop:P1")]


def _pairs(*rows: tuple[str, str, float]) -> Any:
    def fuzzy(records: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame(rows, schema=["uid_l", "uid_r", "match_weight"], orient="row")

    return fuzzy


def test_an_uncontested_fuzzy_pair_a_little_below_the_threshold_is_taken() -> None:
    # mother id mistyped and the date too: no exact pass links them
    rows = frame(pop("P1", birth_date=date(2024, 3, 6)), hosp("H1", mother_id=TYPO))
    linked = link(rows, fuzzy=_pairs(("hosp:H1", "pop:P1", 1.5)), min_match_weight=4)
    assert births(linked) == {("P1", "H1", None)}


def test_a_contested_fuzzy_pair_below_the_threshold_is_not() -> None:
    rows = frame(
        pop("P1", birth_date=date(2024, 3, 6)),
        pop("P2", birth_date=date(2024, 3, 7), child_name="张二"),
        hosp("H1", mother_id=MOTHER_ID_2),
    )
    fuzzy = _pairs(("hosp:H1", "pop:P1", 1.5), ("hosp:H1", "pop:P2", 1.0))
    linked = link(rows, fuzzy=fuzzy, min_match_weight=4)
    assert (None, "H1", None) in births(linked)


def test_fuzzy_pairs_far_below_the_threshold_are_not_taken() -> None:
    rows = frame(pop("P1", birth_date=date(2024, 3, 6)), hosp("H1", mother_id=MOTHER_ID_2))
    linked = link(rows, fuzzy=_pairs(("hosp:H1", "pop:P1", -1.0)), min_match_weight=4)
    assert births(linked) == {("P1", None, None), (None, "H1", None)}


def _shipped_model_pairs(residual: pl.DataFrame) -> pl.DataFrame:
    from recon.link import fuzzy
    from recon.link.model import default_model, fuzzy_frame

    found = fuzzy.predict(
        default_model(), fuzzy_frame(residual), memory_limit="1GB", max_temp_directory_size="1GB"
    )
    return found.select(
        pl.col("unique_id_l").alias("uid_l"), pl.col("unique_id_r").alias("uid_r"), "match_weight"
    )


TYPO = MOTHER_ID[:-1] + ("1" if MOTHER_ID[-1] == "0" else "0")  # the check character wrong
SWAPPED = MOTHER_ID[:10] + MOTHER_ID[11] + MOTHER_ID[10] + MOTHER_ID[12:]


@pytest.mark.parametrize("mother_id", [TYPO, SWAPPED])
def test_a_hospital_mother_id_typo_and_sex_typo_link_exactly(mother_id: str) -> None:
    rows = frame(pop("P1"), hosp("H1", mother_id=mother_id, sex="F"), police(CHILD))
    assert births(link(rows)) == {("P1", "H1", CHILD)}


def test_a_mother_id_typo_does_not_join_twins_by_sex_alone() -> None:
    rows = frame(pop("P1", sex="F"), hosp("H1", mother_id=TYPO, plurality=2))
    assert births(link(rows)) == {("P1", None, None), (None, "H1", None)}


@pytest.mark.parametrize(
    "division",
    [
        "420607102001",  # a village of another township
        "420607101000",  # the township only
        "420607000000",  # the county only
    ],
)
def test_a_hospital_mother_id_typo_plus_a_date_typo_links_with_the_shipped_model(
    division: str,
) -> None:
    rows = frame(
        pop("P1", sex="F", child_name="张丽"),
        hosp("H1", sex="F", mother_id=TYPO, division_code=division, birth_date=date(2024, 3, 6)),
        # a sibling born a year later: same mother, never this birth
        pop("P9", sex="F", child_name="张敏", birth_date=date(2025, 4, 9)),
    )
    linked = link(rows, fuzzy=_shipped_model_pairs, min_match_weight=4)
    assert births(linked) == {("P1", "H1", None), ("P9", None, None)}


def test_twins_with_a_mistyped_mother_id_stay_two_births() -> None:
    # The register has no rank and the hospital no name: which register record is which
    # twin is unknown, but each twin takes one, and neither is a duplicate of the other.
    rows = frame(
        pop("P1", child_name="张一", mother_id=TYPO),
        pop("P2", child_name="张二", mother_id=TYPO),
        hosp("H1", plurality=2, birth_rank=1),
        hosp("H2", plurality=2, birth_rank=2),
    )
    linked = link(rows, fuzzy=_shipped_model_pairs, min_match_weight=4)
    found = births(linked)
    assert len(found) == 2
    assert all(p is not None and h is not None for p, h, _ in found)
    assert linked.duplicates.is_empty()


def test_no_fuzzy_changes_nothing_for_exact_links() -> None:
    rows = frame(pop("P1", child_id=CHILD), hosp("H1"), police(CHILD))
    assert births(link(rows, fuzzy=no_fuzzy)) == {("P1", "H1", CHILD)}


def test_an_uncontested_fuzzy_pair_of_two_mothers_ids_needs_the_full_weight() -> None:
    # same name and day, ids far apart: two women, however lonely their records
    rows = frame(pop("P1", birth_date=date(2024, 3, 6)), hosp("H1", mother_id=MOTHER_ID_2))
    linked = link(rows, fuzzy=_pairs(("hosp:H1", "pop:P1", 3.0)), min_match_weight=4)
    assert births(linked) == {("P1", None, None), (None, "H1", None)}


def test_an_uncontested_fuzzy_pair_whose_sexes_differ_needs_the_full_weight() -> None:
    # two mothers named 李丽 and 李莉 (one pinyin), two babies born the same day
    rows = frame(
        pop("P1", mother_name="李丽", mother_id=None),
        hosp("H1", mother_name="李莉", sex="F"),
    )
    linked = link(rows, fuzzy=_pairs(("hosp:H1", "pop:P1", 3.4)), min_match_weight=4)
    assert births(linked) == {("P1", None, None), (None, "H1", None)}


def test_an_unnamed_register_record_is_no_duplicate_while_a_twin_lacks_its_record() -> None:
    # boy and girl twins; the girl's records all agree; an unnamed register record says
    # girl too, but the boy has no register record: it may be his, the sex mistyped
    rows = frame(
        hosp("H1", plurality=2, birth_rank=1, sex="F", certificate_no="Q420000001"),
        hosp("H2", plurality=2, birth_rank=2, sex="M", certificate_no="Q420000002"),
        pop("P1", child_name="张丽", sex="F", child_id=CHILD_2),
        police(CHILD_2, child_name="张丽", sex="F", certificate_no="Q420000001"),
        pop("P2", child_name=None, sex="F", entered_on=date(2024, 6, 1)),
    )
    linked = link(rows)
    assert linked.duplicates.is_empty()
    assert ("P2", None, None) in births(linked)


def test_an_unnamed_repeat_of_a_single_birth_is_a_duplicate() -> None:
    rows = frame(
        hosp("H1", certificate_no="Q420000001"),
        pop("P1", child_id=CHILD),
        police(CHILD, certificate_no="Q420000001"),
        pop("P2", child_name=None, entered_on=date(2024, 6, 1)),
    )
    linked = link(rows)
    assert linked.duplicates.select("uid", "duplicate_of").rows() == [("pop:P2", "pop:P1")]


def test_an_export_repeating_one_birth_thousands_of_times(recon: Recon, tmp_path: Path) -> None:
    """Every repeat names the first report; the records are compared with the first
    reports of their key only (link.REPEATS_COMPARED), not each with each."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_csv(inbox / "pop_births.csv", [pop_row(记录编号=f"P{i:05d}") for i in range(3000)])
    write_csv(inbox / "hosp_deliveries.csv", [hosp_row()])
    write_csv(inbox / "police_births.csv", [police_row()])
    write_divisions(inbox)
    assert recon.run(inbox, as_of=date(2024, 12, 31)).exit_code == 0
    assert recon.query("SELECT category, duplicate_of, count(*) FROM cases GROUP BY ALL") == [
        ("duplicate", "P00000", 2999)
    ]
