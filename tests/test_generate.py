"""recon.generate: determinism, encodings, truth bookkeeping.

That ingest reads every generated value to the truth's canonical value is shown by
tests/test_generated_run.py, which runs the real reader on these feeds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from stdnum.cn import ric

from recon.feeds import FEED_SPECS, FEEDS
from recon.generate import GenerateSummary, generate

BIRTHS = 2000
AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    stages: list[str] = []
    summary = generate(BIRTHS, 7, tmp_path_factory.mktemp("gen") / "a", progress=stages.append)
    assert stages[0] == "births" and "writing pop" in stages
    return summary


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(run: GenerateSummary, tmp_path: Path) -> None:
    again = generate(BIRTHS, 7, tmp_path / "b")
    first, second = _files(run.out), _files(again.out)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    other = _files(generate(BIRTHS, 8, tmp_path / "c").out)
    for name in ("pop_births.csv", "police_births.csv", "hosp_deliveries.xlsx"):
        assert other[name] != first[name]
    assert other["divisions.csv"] == first["divisions.csv"]  # reference data is fixed


def test_file_names_and_encodings(run: GenerateSummary) -> None:
    out = run.out
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "divisions.csv",
        "hosp_deliveries.xlsx",
        "police_births.csv",
        "pop_births.csv",
    ]
    pop = (out / "pop_births.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        pop.decode("utf-8")
    assert pop.decode("gb18030").startswith("记录编号,姓名,性别")
    police = (out / "police_births.csv").read_bytes()
    assert police.startswith(b"\xef\xbb\xbfid_number,name,sex,birth_date")
    assert (out / "hosp_deliveries.xlsx").read_bytes()[:2] == b"PK"
    div = pl.read_csv(out / "divisions.csv", schema_overrides={"code": pl.String})
    assert div.columns == ["code", "name", "level", "parent"]
    assert div["code"].str.len_chars().eq(12).all()
    assert set(div["level"]) == {"county", "township", "village"}
    assert div.filter(pl.col("level") == "township").height == 15


def test_truth_counts_add_up(run: GenerateSummary) -> None:
    t = run.out / "truth"
    births = pl.read_parquet(t / "births.parquet")
    records = pl.read_parquet(t / "records.parquet")
    assert births.height == BIRTHS
    assert births["birth_id"].n_unique() == BIRTHS
    for feed in FEEDS:
        rec = records.filter(pl.col("feed") == feed)
        canon = pl.read_parquet(t / f"{feed}_canonical.parquet")
        assert rec.height == run.rows[feed]
        assert rec.select("file", "line").is_unique().all()
        valid = rec.filter(pl.col("quarantine").is_null())
        assert canon.height == valid.height
        assert sorted(canon["line"]) == sorted(valid["line"])
        assert canon.columns[: len(FEED_SPECS[feed].columns)] == FEED_SPECS[feed].column_names
        keys = valid["key"]
        assert keys.null_count() == 0 and keys.is_unique().all()
        # in_* flags agree with the records
        seen = set(valid.filter(pl.col("role").is_in(["ok", "stillbirth_registered"]))["birth_id"])
        assert set(births.filter(pl.col(f"in_{feed}"))["birth_id"]) == seen
    roles = set(records["role"])
    assert roles == {"ok", "duplicate", "fictitious", "stillbirth_registered"}
    dup = records.filter(pl.col("role") == "duplicate")
    pop_ids = set(records.filter(pl.col("feed") == "pop")["key"].drop_nulls())
    assert dup["duplicate_of"].null_count() == 0 and set(dup["duplicate_of"]) <= pop_ids
    assert records.filter(pl.col("role") == "fictitious")["birth_id"].null_count() == (
        records.filter(pl.col("role") == "fictitious").height
    )
    # quarantined rows are nothing else
    q = records.filter(pl.col("quarantine").is_not_null())
    assert set(q["role"]) == {"ok"} and set(q["warnings"]) == {""}
    mis = pl.read_parquet(t / "misreports.parquet")
    assert mis.columns == ["feed", "key", "field", "written_value", "true_value"]
    assert set(mis["feed"]) == set(FEEDS)
    assert {"sex", "birth_date", "mother_id", "name"} <= set(mis["field"])


def test_realism_is_present(run: GenerateSummary) -> None:
    t = run.out / "truth"
    births = pl.read_parquet(t / "births.parquet")
    records = pl.read_parquet(t / "records.parquet")
    twins = births.filter(pl.col("plurality") == 2)
    assert twins.height >= 2
    pair = (
        twins.group_by("mother_id")
        .agg(pl.col("birth_rank").sort())
        .filter(pl.col("birth_rank").list.len() == 2)
    )
    assert pair.height >= 1 and pair["birth_rank"][0].to_list() == [1, 2]
    still = births.filter(pl.col("outcome") == "stillbirth")
    assert still.height >= 1
    assert not still["in_police"].any() and still["certificate_no"].null_count() == still.height
    home = births.filter(pl.col("home_birth"))
    assert home.height >= 1 and not home["in_hosp"].any()
    # the due flags follow the deadlines, and recent births are absent
    due = births.select(
        (pl.col("due_pop") == (pl.col("birth_date") <= AS_OF - timedelta(days=120))).all(),
        (pl.col("due_police") == (pl.col("birth_date") <= AS_OF - timedelta(days=90))).all(),
    )
    assert due.row(0) == (True, True)
    assert births.filter(pl.col("birth_date") > AS_OF - timedelta(days=8))["in_pop"].sum() == 0
    kinds = {
        "pop": {"missing_key", "missing_required", "bad_date", "bad_sex", "field_count"}
        | {"bad_id_form", "bad_integer"},
        "hosp": {"missing_key", "missing_required", "bad_date", "bad_sex", "bad_id_form"}
        | {"bad_integer", "bad_enum"},
        "police": {"missing_key", "missing_required", "bad_date", "bad_sex", "field_count"}
        | {"bad_id_form", "bad_enum"},
    }
    warnings = {
        "pop": {"bad_check_char", "mother_age", "unknown_division", "future_date"}
        | {"reported_before_birth", "id_birth_date_mismatch", "id_sex_mismatch"},
        "hosp": {"bad_check_char", "mother_age", "unknown_division", "weight", "gestation"}
        | {"future_date", "reported_before_birth", "certificate_form", "rank_plurality"},
        "police": {"bad_check_char", "mother_age", "unknown_division", "future_date"}
        | {"reported_before_birth", "id_birth_date_mismatch", "id_sex_mismatch"}
        | {"certificate_form"},
    }
    for feed in FEEDS:
        rec = records.filter(pl.col("feed") == feed)
        assert set(rec["quarantine"].drop_nulls()) == kinds[feed]
        seen = {w for ws in rec["warnings"] for w in ws.split(";") if w}
        assert seen == warnings[feed]
        for kind in kinds[feed]:
            assert run.injected[feed][f"quarantine:{kind}"] >= 1
    assert run.total("duplicate") >= 1 and run.total("fictitious") >= 1


def test_identity_numbers_check(run: GenerateSummary) -> None:
    t = run.out / "truth"
    births = pl.read_parquet(t / "births.parquet")
    for col in ("mother_id", "id_number"):
        ids = births[col].drop_nulls()
        assert ids.is_unique().all() or col == "mother_id"  # twins share a mother
        assert all(ric.is_valid(v) for v in ids), col
    child = births.filter(pl.col("id_number").is_not_null())
    for row in child.iter_rows(named=True):
        assert row["id_number"][6:14] == row["birth_date"].strftime("%Y%m%d")
        assert (int(row["id_number"][16]) % 2 == 1) == (row["sex"] == "M")
    records = pl.read_parquet(t / "records.parquet")
    for feed in FEEDS:
        canon = pl.read_parquet(t / f"{feed}_canonical.parquet").join(
            records.filter(pl.col("feed") == feed).select("line", "warnings"), on="line"
        )
        id_cols = [c.name for c in FEED_SPECS[feed].columns if c.kind == "id_number"]
        for row in canon.iter_rows(named=True):
            ok = all(ric.is_valid(row[c]) for c in id_cols if row[c] is not None)
            assert ok == ("bad_check_char" not in row["warnings"]), (feed, row)


# ---------------------------------------------------------------------------
# Reference reader: feeds.md's value rules, written independently of the generator
# ---------------------------------------------------------------------------

SEX = {"男": "M", "1": "M", "M": "M", "女": "F", "2": "F", "F": "F", "未知": None, "0": None}
SEX |= {"9": None, "": None}
FULL = str.maketrans("０１２３４５６７８９", "0123456789")


class Unreadable(ValueError):
    pass


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_hosp_other_formats(fmt: str, tmp_path: Path) -> None:
    s = generate(600, 3, tmp_path, hosp_format=fmt)  # type: ignore[arg-type]
    assert s.paths["hosp"].name == f"hosp_deliveries.{fmt}"
    if fmt == "csv":
        assert not s.paths["hosp"].read_bytes().startswith(b"\xef\xbb\xbf")
        assert s.paths["hosp"].read_text(encoding="utf-8").startswith("登记编号,")
    else:
        df = pl.read_parquet(s.paths["hosp"])
        assert df.columns[0] == "登记编号" and df.height == s.rows["hosp"]
        recs = pl.read_parquet(tmp_path / "truth" / "records.parquet")
        assert sorted(recs.filter(pl.col("feed") == "hosp")["line"]) == list(
            range(1, df.height + 1)
        )
