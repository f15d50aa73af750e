"""recon.generate: determinism, encodings, truth bookkeeping.

That ingest reads every generated value to the truth's canonical value is shown by
tests/night/test_generated_run.py, which runs the real reader on these feeds."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from stdnum.cn import ric
from typer.testing import CliRunner

from recon.cli import app
from recon.ingest.feeds import FEED_SPECS, FEEDS
from recon_sim.generate import MISREPORT_KEYS, PROFILES, GenerateSummary, generate

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


# ---------------------------------------------------------------------------
# Error mixes: profiles and --rate
# ---------------------------------------------------------------------------

MIX_BIRTHS = 4000


@pytest.fixture(scope="module", params=sorted(PROFILES))
def mixed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> GenerateSummary:
    profile = str(request.param)
    return generate(MIX_BIRTHS, 5, tmp_path_factory.mktemp(profile), profile=profile)


def _kinds(summary: GenerateSummary) -> pl.DataFrame:
    """Truth misreports of role-ok rows, keyed like MISREPORT_KEYS, with the row's warnings."""
    t = summary.out / "truth"
    mis = pl.read_parquet(t / "misreports.parquet")
    records = pl.read_parquet(t / "records.parquet").filter(pl.col("quarantine").is_null())
    township = (pl.col("field") == "division_code") & (
        pl.col("written_value").str.slice(0, 9) != pl.col("true_value").str.slice(0, 9)
    )
    return mis.join(records.select("feed", "key", "warnings"), on=["feed", "key"]).with_columns(
        (
            pl.col("feed")
            + "."
            + pl.when(township).then(pl.lit("division_township")).otherwise(pl.col("field"))
        ).alias("kind")
    )


def test_profile_rates_show_in_the_truth(mixed: GenerateSummary) -> None:
    mix = PROFILES[mixed.profile]
    manifest = json.loads((mixed.out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["profile"] == mixed.profile and manifest["misreport_rates"] == mix
    kinds = _kinds(mixed)
    every = kinds.group_by("kind").len()
    # a warning's value change is listed too; a row without a warning was misreported
    clean = kinds.filter(pl.col("warnings") == "").group_by("kind").len()
    seen = dict(every.iter_rows())
    seen_clean = dict(clean.iter_rows())
    for key in MISREPORT_KEYS:
        if key == "moved":
            continue
        feed, _, field = key.partition(".")
        expected = mix[key] * mixed.rows[feed]
        injected = mixed.injected[feed].get(f"misreport:{field}", 0)
        assert injected == round(expected), key  # declined rows are replaced
        if mix[key] == 0:
            assert seen_clean.get(key, 0) == 0, key
        else:
            assert 0.5 * expected <= seen.get(key, 0), (key, seen.get(key), expected)
            assert seen_clean.get(key, 0) <= 1.5 * expected, (key, seen_clean.get(key), expected)
    births = pl.read_parquet(mixed.out / "truth" / "births.parquet")
    moved = int((births["residence_code"] != births["division_code"]).sum())
    assert moved == mixed.total("truth:moved")
    assert 0.5 * mix["moved"] * MIX_BIRTHS <= moved <= mix["moved"] * MIX_BIRTHS


def test_a_record_gets_one_misreport_and_township_errors_change_township(
    mixed: GenerateSummary,
) -> None:
    kinds = _kinds(mixed)
    assert kinds.filter(pl.col("warnings") == "").select("feed", "key").is_unique().all()
    div = pl.read_csv(mixed.out / "divisions.csv", schema_overrides={"code": pl.String})
    level = dict(div.select("code", "level").iter_rows())
    towns = kinds.filter(pl.col("kind").str.ends_with(".division_township"))
    for feed, written, true in towns.select("feed", "written_value", "true_value").iter_rows():
        assert written[:9] != true[:9] and written[:9] + "000" in level
        # pop writes whole codes; hosp and police sometimes only the township
        assert level.get(written) == "village" or (feed != "pop" and written.endswith("000"))
    for feed in FEEDS:
        injected = mixed.injected[feed].get("misreport:division_township", 0)
        assert towns.filter(pl.col("feed") == feed).height >= 0.9 * injected


def test_movers_live_elsewhere_and_are_no_misreport(tmp_path: Path) -> None:
    s = generate(3000, 9, tmp_path, profile="movers", rates={"moved": 0.05})
    t = tmp_path / "truth"
    births = pl.read_parquet(t / "births.parquet")
    movers = births.filter(pl.col("residence_code") != pl.col("division_code"))
    assert movers.height == s.total("truth:moved") >= 100
    div = pl.read_csv(tmp_path / "divisions.csv", schema_overrides={"code": pl.String})
    villages = set(div.filter(pl.col("level") == "village")["code"])
    assert set(movers["residence_code"]) <= villages
    assert (
        movers["residence_code"].str.slice(0, 9) != movers["division_code"].str.slice(0, 9)
    ).all()
    # twins move together
    assert (
        births.group_by("mother_id")
        .agg(pl.col("residence_code").n_unique())["residence_code"]
        .max()
        == 1
    )
    records = pl.read_parquet(t / "records.parquet").filter(
        pl.col("quarantine").is_null() & (pl.col("role") == "ok")
    )
    mis = pl.read_parquet(t / "misreports.parquet").filter(pl.col("field") == "division_code")
    seen = {}
    for feed in FEEDS:
        canon = pl.read_parquet(t / f"{feed}_canonical.parquet").join(
            records.filter(pl.col("feed") == feed).select("line", "key", "birth_id"), on="line"
        )
        seen[feed] = canon.join(movers.select("birth_id", "division_code", "residence_code"),
                                on="birth_id", suffix="_true")  # fmt: skip
    pop = seen["pop"]
    assert pop.height >= 50
    listed = set(mis.filter(pl.col("feed") == "pop")["key"])
    at_home = pop.filter(pl.col("division_code") == pl.col("residence_code"))
    assert at_home.height >= 0.95 * pop.height  # all but the few misreported on top
    assert not set(at_home["record_id"]) & listed
    for feed in ("hosp", "police"):  # the registered residence: the old township
        other = seen[feed].filter(
            ~pl.col("key").is_in(list(mis.filter(pl.col("feed") == feed)["key"]))
        )
        assert other.height >= 50
        assert (
            other["division_code"].str.slice(0, 6) == other["division_code_true"].str.slice(0, 6)
        ).all()
        assert (
            other["division_code"].str.slice(0, 9) != other["residence_code"].str.slice(0, 9)
        ).all()


def test_cli_profile_and_rate_overrides(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "inbox"
    args = ["generate", "--births", "2000", "--seed", "4", "--out", str(out)]
    args += ["--profile", "clean", "--rate", "pop.name=0.02", "--rate", "police.sex=0.01"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["profile"] == "clean"
    rates = manifest["misreport_rates"]
    assert set(rates) == set(MISREPORT_KEYS)
    assert rates["pop.name"] == 0.02 and rates["police.sex"] == 0.01
    assert sum(rates.values()) == pytest.approx(0.03)
    inj = manifest["injected"]
    assert inj["pop"]["misreport:name"] == round(0.02 * manifest["rows"]["pop"])
    assert inj["police"]["misreport:sex"] == round(0.01 * manifest["rows"]["police"])
    assert not any(k.startswith("misreport:") for k in inj["hosp"])
    mis = pl.read_parquet(out / "truth" / "misreports.parquet")
    assert (
        mis.filter((pl.col("feed") == "pop") & (pl.col("field") == "name")).height
        == (inj["pop"]["misreport:name"])
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["--profile", "nope"],
        ["--rate", "pop.nam=0.01"],
        ["--rate", "pop.name=0.5"],
        ["--rate", "pop.name=-0.1"],
        ["--rate", "pop.name"],
        ["--rate", "pop.name=lots"],
        ["--rate", "police.birth_order=0.01"],
    ],
)
def test_cli_bad_profile_or_rate_is_a_usage_error(extra: list[str], tmp_path: Path) -> None:
    out = tmp_path / "inbox"
    args = ["generate", "--births", "100", "--out", str(out), *extra]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert not out.exists()


def test_api_refuses_bad_mixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        generate(10, 1, tmp_path, profile="nope")
    with pytest.raises(ValueError, match=r"pop\.nam"):
        generate(10, 1, tmp_path, rates={"pop.nam": 0.01})
    with pytest.raises(ValueError, match=r"hosp\.sex"):
        generate(10, 1, tmp_path, rates={"hosp.sex": 0.21})


def test_cli_help_lists_the_profiles() -> None:
    result = CliRunner().invoke(app, ["generate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in PROFILES:
        assert name in result.output, name


def test_in_blocks_the_keys_stay_unique_and_the_lines_true(tmp_path: Path) -> None:
    summary = generate(3000, 4, tmp_path / "blocks", block_births=700, hosp_format="csv")
    again = generate(3000, 4, tmp_path / "again", block_births=700, hosp_format="csv")
    assert _files(summary.out) == _files(again.out)
    manifest = json.loads((summary.out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["blocks"] == 5
    assert not list((summary.out / "truth").glob(".*"))  # the blocks' parts are joined
    births = pl.read_parquet(summary.out / "truth" / "births.parquet")
    assert births.height == 3000 == births["birth_id"].n_unique()
    days = births["birth_date"]
    assert (days.max() - days.min()).days >= 700  # the blocks follow one another
    # A mother's babies are one delivery's (twins minutes apart), never another block's.
    spread = births.group_by("mother_id").agg(
        pl.col("delivered_at").max() - pl.col("delivered_at").min()
    )
    assert spread["delivered_at"].max() < timedelta(hours=1)
    for column in ("id_number", "certificate_no"):
        assert not births[column].drop_nulls().is_duplicated().any(), column
    records = pl.read_parquet(summary.out / "truth" / "records.parquet")
    assert records.group_by("feed").len().sort("feed").rows() == sorted(summary.rows.items())
    valid = records.filter(pl.col("quarantine").is_null())
    assert not valid.select(pl.struct("feed", "key").is_duplicated().any()).item()
    # Every record's line is the physical line where its key starts.
    for feed, name in (("pop", "pop_births.csv"), ("police", "police_births.csv")):
        encoding = "gb18030" if feed == "pop" else "utf-8-sig"
        text = (summary.out / name).read_bytes().decode(encoding)
        lines = text.split("\n")  # a quoted remark may hold a line break
        rows = valid.filter(pl.col("feed") == feed)
        assert rows.height > 800
        for line, key in rows.select("line", "key").iter_rows():
            written = unicodedata.normalize("NFKC", lines[line - 1]).replace(" ", "").upper()
            assert key in written, (feed, line)  # full-width digits, stray spaces, x
