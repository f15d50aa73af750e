"""The Spark engine gives the embedded engine's cases, case for case, on a night linked
in parts; a clear error where Java or pyspark is missing.

Spark runs in local mode with 2 shuffle partitions and no UI, in one pytest worker. The
tests that need Spark are skipped, saying why, where Java 17 or pyspark is absent
(`.ci/run` installs both, so they run in CI).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import Recon

from recon.engine import EngineUnavailable
from recon.engine.spark import check_available
from recon_sim.generate import generate

AS_OF = date(2024, 12, 31)
CONFIG = """
[ingest]
chunk_rows = 1000

[reconcile]
partition_births = 1000

[engine]
spark_master = "local[2]"
shuffle_partitions = 2
driver_memory = "2g"
"""


def _missing() -> str | None:
    try:
        check_available()
    except EngineUnavailable as exc:
        return str(exc)
    return None


MISSING = _missing()
needs_spark = pytest.mark.skipif(MISSING is not None, reason=f"no Spark engine here: {MISSING}")
pytestmark = pytest.mark.xdist_group("spark")  # one Spark at a time on 2 cores


RUNS = {  # name: (engine, [engine] across)
    "duckdb": ("duckdb", "auto"),
    "spark": ("spark", "auto"),  # the pass across the parts as one more Spark task
    "spark-sql": ("spark", "sql"),  # its pairs scored by Splink on Spark SQL
}


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recon]:
    """One generated night (twins, families that moved, 3% misspelt register names, and
    every bad row of the feed contract), run on each engine into a store of its own."""
    if MISSING is not None:
        pytest.skip(f"no Spark engine here: {MISSING}")
    root = tmp_path_factory.mktemp("engines")
    inbox = root / "inbox"
    generate(3000, 5, inbox, as_of=AS_OF, profile="movers", rates={"pop.name": 0.03})
    runs = {}
    for name, (engine, across) in RUNS.items():
        config = root / f"{name}.toml"
        config.write_text(CONFIG + f'across = "{across}"\n', encoding="utf-8")
        recon = Recon(root / name)
        result = recon.run(inbox, "--config", str(config), "--engine", engine)
        assert result.exit_code == 0, result.output
        assert "段链接" in result.output  # linked in parts, then across them
        runs[name] = recon
    return runs


@needs_spark
@pytest.mark.parametrize("run", ["spark", "spark-sql"])
def test_both_engines_give_the_same_worklist_case_for_case(
    nights: dict[str, Recon], run: str
) -> None:
    duck, spark = (
        (nights[e].out / "worklist.csv").read_text(encoding="utf-8-sig").splitlines()
        for e in ("duckdb", run)
    )
    assert len(duck) > 300  # a night with cases of every kind
    assert duck[0] == spark[0]
    assert len(duck) == len(spark)
    differ = [(d, s) for d, s in zip(duck, spark, strict=True) if d != s]
    assert not differ, f"{len(differ)} cases differ, first:\n{differ[0]}"


TABLES = {
    # Each file normalised and validated in chunks of 1,000 rows, as Spark tasks there.
    "files": "SELECT * EXCLUDE (run_id) FROM files",
    "pop_records": "SELECT * FROM pop_records",
    "hosp_records": "SELECT * FROM hosp_records",
    "police_records": "SELECT * FROM police_records",
    "quarantine": "SELECT * FROM quarantine",
    "warnings": "SELECT * FROM warnings",
    "rule_results": "SELECT * FROM rule_results",
    # `details` holds the id Great Expectations draws at random for each expectation
    "expectation_results": "SELECT * EXCLUDE (run_id, details) FROM expectation_results",
    "link_births": "SELECT * FROM link_births",
    "links": "SELECT * FROM links",
    "link_duplicates": "SELECT * FROM link_duplicates",
    "births": "SELECT * FROM births",
    "findings": "SELECT * FROM findings",
    "cases": "SELECT case_id, category, status, evidence FROM cases",
}


@needs_spark
@pytest.mark.parametrize("table", TABLES)
def test_both_engines_write_the_same_store_tables(nights: dict[str, Recon], table: str) -> None:
    rows = {e: sorted(nights[e].query(TABLES[table]), key=repr) for e in nights}
    assert rows["duckdb"], f"{table} is empty"
    assert rows["spark"] == rows["duckdb"]
    assert rows["spark-sql"] == rows["duckdb"]


@needs_spark
def test_on_spark_the_chunks_are_normalised_and_checked_in_tasks(nights: dict[str, Recon]) -> None:
    import json

    timings = {
        e: json.loads((nights[e].out / "run.json").read_text(encoding="utf-8"))["timings_s"]
        for e in nights
    }
    # The embedded engine times the chunks' steps in its own process; Spark ran them in
    # its Python workers, out of the driver's clock, which kept reading and storing.
    assert {"normalise", "validate", "store", "read"} <= timings["duckdb"].keys()
    for run in ("spark", "spark-sql"):
        assert "normalise" not in timings[run] and "validate" not in timings[run]
        assert {"read", "store", "expectations", "ingest"} <= timings[run].keys()


@needs_spark
def test_the_spark_rendered_model_gives_duckdbs_pair_weights(
    nights: dict[str, Recon], tmp_path: Path
) -> None:
    from recon.config import load_config
    from recon.engine.spark import start_session
    from recon.link import fuzzy, spark_model
    from recon.link.exact import prepare
    from recon.link.model import default_model, fuzzy_frame
    from recon.resources import sql

    records = prepare(_frame(nights["duckdb"], sql("link/records")))
    frame = fuzzy_frame(records.sample(3000, seed=1))
    model = default_model()
    want = fuzzy.predict(model, frame, memory_limit="1GB", max_temp_directory_size="1GB")
    spark = start_session(load_config().engine, tmp_path)
    try:
        got = spark_model.predict(spark, model, frame, fuzzy.DEFAULT_MIN_MATCH_WEIGHT)
    finally:
        spark.stop()
    assert want.height > 100
    keys = ["unique_id_l", "unique_id_r"]
    assert got.select(keys).equals(want.select(keys))
    assert got["match_weight"].equals(want["match_weight"])  # to the last bit


def _frame(recon: Recon, query: str) -> pl.DataFrame:
    import duckdb

    con = duckdb.connect(str(recon.db), read_only=True)
    try:
        frame = pl.from_arrow(con.sql(query).to_arrow_table())
    finally:
        con.close()
    assert isinstance(frame, pl.DataFrame)
    return frame


def test_without_java_the_spark_engine_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    recon = Recon(tmp_path)
    result = recon.run(tmp_path, "--engine", "spark")
    assert result.exit_code == 2
    assert "Java 17" in result.output and "openjdk-17-jre-headless" in result.output
    assert not recon.db.exists()  # refused before the store was touched


def test_without_pyspark_the_spark_engine_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import fails
    recon = Recon(tmp_path)
    result = recon.run(tmp_path, "--engine", "spark")
    assert result.exit_code == 2
    assert "pip install 'recon[spark]'" in result.output
    assert not recon.db.exists()


def test_an_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    result = Recon(tmp_path).run(tmp_path, "--engine", "hadoop")
    assert result.exit_code == 2
    assert "use duckdb or spark" in result.output


@needs_spark
def test_a_quiet_spark_night_logs_recons_line_and_nothing_of_sparks(tmp_path: Path) -> None:
    # What cron mails: recon's one line, not the JVM's start-up chatter (log4j, WARN).
    inbox = tmp_path / "inbox"
    shutil.copytree(Path(__file__).parents[1] / "data" / "golden" / "inbox", inbox)
    recon = Path(sys.executable).with_name("recon")
    done = subprocess.run(
        [str(recon), "run", "--inbox", str(inbox), "--db", str(tmp_path / "recon.duckdb"),
         "--out", str(tmp_path / "out"), "--as-of", AS_OF.isoformat(), "--quiet",
         "--engine", "spark", "--spark-master", "local[1]"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(done.stdout.strip().splitlines()) == 1
