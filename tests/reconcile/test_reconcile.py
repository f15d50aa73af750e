"""Reconciliation on small hand-made feeds: each category, and the traps that must not fire."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

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

AS_OF = date(2024, 12, 31)
TWIN_A = id_with_check("42060720240305001")  # boy
TWIN_B = id_with_check("42060720240305003")  # boy too: same-sex twins are the hard case


def twin_deliveries() -> list[dict]:  # type: ignore[type-arg]
    """The hospital's two records of one delivery of twin boys (H1, H2)."""
    return [
        hosp_row(登记编号="H1", 胎数="2", 胎序="1", 出生医学证明编号="Q420000001"),
        hosp_row(
            登记编号="H2",
            胎数="2",
            胎序="2",
            分娩时间="2024-03-05 08:41",
            出生医学证明编号="Q420000002",
        ),
    ]


def worklist(recon: Recon) -> list[dict[str, str]]:
    with (recon.out / "worklist.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def inbox_of(root: Path, pop: list[dict], hosp: list[dict], police: list[dict]) -> Path:  # type: ignore[type-arg]
    """Every feed's file; an empty list is an extract with no rows (the feed was received)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows, example in (
        ("pop_births.csv", pop, pop_row),
        ("hosp_deliveries.csv", hosp, hosp_row),
        ("police_births.csv", police, police_row),
    ):
        if rows:
            write_csv(root / name, rows)
        else:
            (root / name).write_text(",".join(example()) + "\n", encoding="utf-8")
    write_divisions(root)
    return root


def one_birth() -> tuple[list[dict], list[dict], list[dict]]:  # type: ignore[type-arg]
    return [pop_row()], [hosp_row()], [police_row()]


def test_a_birth_all_three_agree_on_makes_no_case(recon: Recon, tmp_path: Path) -> None:
    inbox = inbox_of(tmp_path / "in", *one_birth())
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert worklist(recon) == []


def test_twins_are_two_births_not_a_duplicate(recon: Recon, tmp_path: Path) -> None:
    pop = [
        pop_row(记录编号="P1", 姓名="张一", 公民身份号码=TWIN_A),
        pop_row(记录编号="P2", 姓名="张二", 公民身份号码=TWIN_B),
    ]
    hosp = twin_deliveries()
    police = [
        police_row(公民身份号码=TWIN_A, 姓名="张一", 出生医学证明编号="Q420000001"),
        police_row(公民身份号码=TWIN_B, 姓名="张二", 出生医学证明编号="Q420000002"),
    ]
    inbox = inbox_of(tmp_path / "in", pop, hosp, police)
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert worklist(recon) == []
    births = recon.query(
        "SELECT pop_record_id, hosp_delivery_id, police_id_number FROM births ORDER BY 1"
    )
    assert births == [("P1", "H1", TWIN_A), ("P2", "H2", TWIN_B)]


def test_stillbirth_alone_makes_no_case_but_registered_it_is_fictitious(
    recon: Recon, tmp_path: Path
) -> None:
    hosp = [hosp_row(妊娠结局="死产", 出生医学证明编号="")]
    inbox = inbox_of(tmp_path / "in", [], hosp, [])
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert worklist(recon) == []

    night2 = inbox_of(tmp_path / "in2", [pop_row(公民身份号码="")], [], [])
    assert recon.run(night2, as_of=AS_OF).exit_code == 0
    cases = worklist(recon)
    assert [(c["category"], c["target_system"], c["pop_record_id"]) for c in cases] == [
        ("fictitious", "pop", "P0001")
    ]
    assert "死产" in cases[0]["evidence"]


def test_a_birth_not_yet_due_is_not_missing(recon: Recon, tmp_path: Path) -> None:
    inbox = inbox_of(tmp_path / "in", [], [hosp_row()], [])
    # Born 2024-03-05: the police are due after 90 days, the register after 120.
    assert recon.run(inbox, as_of=date(2024, 5, 1)).exit_code == 0
    assert worklist(recon) == []
    assert recon.run(inbox, as_of=date(2024, 6, 10)).exit_code == 0
    assert [(c["category"], c["target_system"]) for c in worklist(recon)] == [("missing", "police")]
    assert recon.run(inbox, as_of=date(2024, 7, 10)).exit_code == 0
    assert sorted((c["category"], c["target_system"]) for c in worklist(recon)) == [
        ("missing", "police"),
        ("missing", "pop"),
    ]
    assert all(c["hosp_delivery_id"] == "H0001" for c in worklist(recon))


def test_a_wrong_sex_in_the_register_is_misreported(recon: Recon, tmp_path: Path) -> None:
    inbox = inbox_of(tmp_path / "in", [pop_row(性别="女")], [hosp_row()], [police_row()])
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    cases = worklist(recon)
    assert [
        (c["category"], c["target_system"], c["field"], c["current_value"], c["proposed_value"])
        for c in cases
    ] == [("misreported", "pop", "sex", "F", "M")]
    assert float(cases[0]["confidence"]) >= 0.9
    assert cases[0]["division_code"] == "420607101203"
    assert [cases[0][f"sig{i}_role"] for i in range(1, 7)] == [
        "计生专干", "村组干部", "包保国家干部", "统计员", "分管领导", "单位一把手",
    ]  # fmt: skip


def test_a_typo_in_the_mother_id_is_found_and_corrected(recon: Recon, tmp_path: Path) -> None:
    typo = MOTHER_ID[:10] + MOTHER_ID[11] + MOTHER_ID[10] + MOTHER_ID[12:]  # adjacent swap
    assert typo != MOTHER_ID
    inbox = inbox_of(
        tmp_path / "in", [pop_row(母亲公民身份号码=typo)], [hosp_row()], [police_row()]
    )
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert [(c["field"], c["current_value"], c["proposed_value"]) for c in worklist(recon)] == [
        ("mother_id", typo, MOTHER_ID)
    ]


def test_duplicate_register_entry_after_a_move(recon: Recon, tmp_path: Path) -> None:
    pop = [
        pop_row(),
        pop_row(记录编号="P0009", 居住地区划代码="420607102001", 上报日期="2024-09-01"),
    ]
    inbox = inbox_of(tmp_path / "in", pop, [hosp_row()], [police_row()])
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    cases = worklist(recon)
    assert [(c["category"], c["pop_record_id"], c["duplicate_of"]) for c in cases] == [
        ("duplicate", "P0009", "P0001")
    ]


def test_a_register_entry_nobody_else_saw_is_fictitious(recon: Recon, tmp_path: Path) -> None:
    pop = [
        pop_row(),
        pop_row(
            记录编号="P0007", 母亲公民身份号码=MOTHER_ID_2, 出生日期="2024-06-01", 公民身份号码=""
        ),
    ]
    inbox = inbox_of(tmp_path / "in", pop, [hosp_row()], [police_row()])
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert [(c["category"], c["pop_record_id"]) for c in worklist(recon)] == [
        ("fictitious", "P0007")
    ]


def test_case_ids_survive_a_second_night_and_a_corrected_record_closes_its_case(
    recon: Recon, tmp_path: Path
) -> None:
    pop = [
        pop_row(性别="女"),
        pop_row(
            记录编号="P0007", 母亲公民身份号码=MOTHER_ID_2, 出生日期="2024-06-01", 公民身份号码=""
        ),
    ]
    inbox = inbox_of(tmp_path / "in", pop, [hosp_row()], [police_row()])
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    first = {c["case_id"]: c["category"] for c in worklist(recon)}
    assert sorted(first.values()) == ["fictitious", "misreported"]

    assert recon.run(inbox, as_of=AS_OF).exit_code == 0  # same inbox: nothing changes
    assert {c["case_id"]: c["category"] for c in worklist(recon)} == first

    night2 = inbox_of(tmp_path / "in2", [pop_row()], [], [])  # the register fixed the sex
    assert recon.run(night2, as_of=AS_OF).exit_code == 0
    second = {c["case_id"]: c["category"] for c in worklist(recon)}
    assert second == {k: v for k, v in first.items() if v == "fictitious"}
    closed = recon.query("SELECT category, closed_run FROM cases WHERE closed_run IS NOT NULL")
    assert closed == [("misreported", 3)]


def test_a_rank_beyond_the_plurality_is_put_right_by_the_other_babies(
    recon: Recon, tmp_path: Path
) -> None:
    hosp = [
        hosp_row(登记编号="H1", 胎数="2", 胎序="1", 出生医学证明编号="Q420000001"),
        hosp_row(
            登记编号="H2",
            胎数="2",
            胎序="3",
            分娩时间="2024-03-05 08:41",
            出生医学证明编号="Q420000002",
        ),
        hosp_row(
            登记编号="H3",
            胎数="1",
            胎序="2",
            产妇公民身份号码=MOTHER_ID_2,
            出生医学证明编号="Q420000003",
        ),
    ]
    inbox = inbox_of(tmp_path / "in", [], hosp, [])
    assert recon.run(inbox, as_of=date(2024, 4, 1)).exit_code == 0  # nothing due yet
    cases = sorted(
        (c["hosp_delivery_id"], c["field"], c["current_value"], c["proposed_value"])
        for c in worklist(recon)
    )
    assert cases == [("H2", "birth_rank", "3", "2"), ("H3", "birth_rank", "2", "1")]


def test_the_first_report_is_kept_when_the_later_one_linked(recon: Recon, tmp_path: Path) -> None:
    # The register entered the birth in April with a homophone and no id yet, and again in
    # September correctly: the September record is the second record of the birth.
    pop = [
        pop_row(记录编号="P1", 姓名="张玮", 公民身份号码="", 上报日期="2024-04-01"),
        pop_row(记录编号="P2", 上报日期="2024-09-01"),
    ]
    inbox = inbox_of(tmp_path / "in", pop, [hosp_row()], [police_row()])
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    cases = sorted(
        (c["category"], c["pop_record_id"], c["duplicate_of"], c["field"], c["proposed_value"])
        for c in worklist(recon)
    )
    assert cases == [
        ("duplicate", "P2", "P1", "", "注销"),
        ("misreported", "P1", "", "name", "张伟"),
    ]
    assert recon.query("SELECT pop_record_id FROM births") == [("P1",)]


def test_a_duplicate_of_a_twin_repeats_the_twin_its_name_names(
    recon: Recon, tmp_path: Path
) -> None:
    # Twin boys: 张一 is named, his brother not yet. A later entry 章一 (a homophone) repeats
    # 张一 by name, and the unnamed brother only by mother, day and sex.
    pop = [
        pop_row(记录编号="P1", 姓名="张一", 公民身份号码=TWIN_A),
        pop_row(记录编号="P2", 姓名="", 公民身份号码=""),
        pop_row(记录编号="P3", 姓名="章一", 公民身份号码="", 上报日期="2024-10-01"),
    ]
    hosp = twin_deliveries()
    police = [police_row(公民身份号码=TWIN_A, 姓名="张一", 出生医学证明编号="Q420000001")]
    inbox = inbox_of(tmp_path / "in", pop, hosp, police)
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    cases = {(c["category"], c["pop_record_id"], c["duplicate_of"]) for c in worklist(recon)}
    assert ("duplicate", "P3", "P1") in cases
    assert not any(c[0] == "fictitious" for c in cases)
