"""The evidence policy on hand-made feeds: the authority order decides between single
witnesses, heuristics only lower the confidence, and a division in another township
reaches a person."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from conftest import (
    Recon,
    hosp_row,
    police_row,
    pop_row,
    sign_workbook,
    write_csv,
    write_divisions,
)

from recon.config import ConfigError, load_config
from recon.reconcile.evidence import DEFAULT_CONFIDENCE

AS_OF = date(2024, 12, 31)


def worklist(recon: Recon) -> list[dict[str, str]]:
    with (recon.out / "worklist.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def night(root: Path, pop: dict, hosp: dict | None, police: dict) -> Path:  # type: ignore[type-arg]
    root.mkdir(parents=True)
    write_csv(root / "pop_births.csv", [pop])
    if hosp is not None:
        write_csv(root / "hosp_deliveries.csv", [hosp])
    write_csv(root / "police_births.csv", [police])
    write_divisions(root)
    return root


def cases_of(recon: Recon) -> list[tuple[str, str, str, str, str]]:
    return sorted(
        (c["category"], c["target_system"], c["field"], c["current_value"], c["proposed_value"])
        for c in worklist(recon)
    )


def test_a_name_the_register_and_police_disagree_on_takes_the_police_spelling(
    recon: Recon, tmp_path: Path
) -> None:
    # No third witness holds a child's name: the police are its authority (feeds.md).
    inbox = night(tmp_path / "in", pop_row(姓名="张玮"), hosp_row(), police_row(姓名="张伟"))
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert cases_of(recon) == [("misreported", "pop", "name", "张玮", "张伟")]
    (case,) = worklist(recon)
    assert float(case["confidence"]) == DEFAULT_CONFIDENCE["authority"]
    assert case["evidence"].startswith("姓名与全员人口记录不一致：以公安户籍为准")
    assert "无其他来源佐证，按姓名的权威顺序：公安户籍＞全员人口" in case["evidence"]


def test_a_heuristic_never_overrides_the_authority_it_only_lowers_the_confidence(
    recon: Recon, tmp_path: Path
) -> None:
    # The register's spelling shares the father's surname and uses the commoner
    # characters; the police spelling still decides, with a note and a lower confidence.
    inbox = night(tmp_path / "in", pop_row(姓名="张伟"), hosp_row(), police_row(姓名="章伟"))
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert cases_of(recon) == [("misreported", "pop", "name", "张伟", "章伟")]
    (case,) = worklist(recon)
    assert float(case["confidence"]) == DEFAULT_CONFIDENCE["authority_doubted"]
    assert "父亲同姓" in case["evidence"]


def test_two_agreeing_sources_beat_the_authority(recon: Recon, tmp_path: Path) -> None:
    # The hospital is the authority on sex, but the police and the register agree.
    inbox = night(tmp_path / "in", pop_row(), hosp_row(新生儿性别="女"), police_row())
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert cases_of(recon) == [("misreported", "hosp", "sex", "F", "M")]
    (case,) = worklist(recon)
    assert float(case["confidence"]) == DEFAULT_CONFIDENCE["agreed"]
    assert recon.query("SELECT sex FROM births") == [("M",)]


def test_a_township_code_supports_the_village_of_its_township(recon: Recon, tmp_path: Path) -> None:
    # The hospital names only the township (张湾街道); the police a village of another
    # township. The register's village, in the hospital's township, has two witnesses.
    inbox = night(
        tmp_path / "in",
        pop_row(),
        hosp_row(产妇户籍地区划代码="420607101"),
        police_row(户籍地区划代码="420607102001"),
    )
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert cases_of(recon) == [
        ("misreported", "police", "division_code", "420607102001", "420607101203")
    ]


def test_a_division_in_another_township_reaches_a_person(recon: Recon, tmp_path: Path) -> None:
    # The register says 刘集镇; the hospital and the police agree on 张湾街道.
    pop = pop_row(居住地区划代码="420607102001")
    inbox = night(tmp_path / "in", pop, hosp_row(), police_row())
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert cases_of(recon) == [
        ("misreported", "pop", "division_code", "420607102001", "420607101203")
    ]
    (case,) = worklist(recon)
    assert float(case["confidence"]) == DEFAULT_CONFIDENCE["other_township"]
    assert "家庭迁居" in case["evidence"]
    assert case["division_code"] == "420607101203"  # routed where the others agree


def test_another_village_of_the_same_township_is_a_slip(recon: Recon, tmp_path: Path) -> None:
    pop = pop_row(居住地区划代码="420607101204")
    inbox = night(tmp_path / "in", pop, hosp_row(), police_row())
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    (case,) = worklist(recon)
    assert (case["field"], case["proposed_value"]) == ("division_code", "420607101203")
    assert float(case["confidence"]) == DEFAULT_CONFIDENCE["agreed"]
    assert "迁居" not in case["evidence"]


def test_a_move_rejected_by_a_signer_is_not_asked_again(recon: Recon, tmp_path: Path) -> None:
    pop = pop_row(居住地区划代码="420607102001")
    assert (
        recon.run(night(tmp_path / "in", pop, hosp_row(), police_row()), as_of=AS_OF).exit_code == 0
    )
    book = tmp_path / "wl.xlsx"
    assert recon("worklist", "export", "--db", str(recon.db), "--out", str(book)).exit_code == 0
    sign_workbook(book, 1, "王专干", date(2025, 1, 2), "不同意", "已迁居")
    assert recon("worklist", "import", str(book), "--db", str(recon.db)).exit_code == 0
    (case_id,) = [c["case_id"] for c in worklist(recon)]

    # A later night brings a new police version; the evidence on the division is the same.
    later = tmp_path / "in2"
    later.mkdir()
    write_csv(later / "police_births_2.csv", [police_row(登记日期="2024-05-02")])
    assert recon.run(later, as_of=AS_OF).exit_code == 0
    assert recon.query("SELECT case_id, status FROM cases WHERE closed_run IS NULL") == [
        (case_id, "rejected")
    ]
    again = tmp_path / "again.csv"
    result = recon(
        "worklist", "export", "--db", str(recon.db), "--format", "csv", "--out", str(again)
    )
    assert result.exit_code == 0, result.output
    with again.open(encoding="utf-8-sig") as handle:
        assert list(csv.DictReader(handle)) == []  # nobody is asked to sign it again


def test_the_authority_order_is_configurable_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "recon.toml"
    config.write_text('[reconcile.authority]\nname = ["pop", "police"]\n', encoding="utf-8")
    assert load_config(config).evidence.order("name") == ("pop", "police")
    config.write_text('[reconcile.authority]\nname = ["pop", "hosp"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="name"):
        load_config(config)
    config.write_text("[reconcile.confidence]\nagreed = 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="agreed"):
        load_config(config)


def test_the_register_alone_does_not_correct_a_registered_residence(
    recon: Recon, tmp_path: Path
) -> None:
    # The register says the family lives in 刘集镇; the hospital names only the township of
    # the registered residence (张湾街道), the police only the county. The register's
    # village is the one precise value, but where a family lives is no registered
    # residence: no notice goes to the hospital.
    inbox = night(
        tmp_path / "in",
        pop_row(居住地区划代码="420607102001"),
        hosp_row(产妇户籍地区划代码="420607101"),
        police_row(户籍地区划代码="420607"),
    )
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    assert [c for c in cases_of(recon) if c[2] == "division_code"] == []
