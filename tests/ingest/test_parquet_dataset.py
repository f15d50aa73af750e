"""A feed exported as a Parquet dataset: a folder of parts, as Spark and Hive write a table.

The folder is one feed file of the inbox: its rows are the parts' rows in order, a row's
line its place among them all, and the night finds what it finds in the single file.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import Recon

from recon_sim.generate import generate

AS_OF = date(2026, 10, 31)
HOSP = "hosp_deliveries.parquet"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dataset") / "inbox"
    generate(2000, 6, root, as_of=AS_OF, hosp_format="parquet")
    shutil.rmtree(root / "truth")
    return root


def as_dataset(inbox: Path, target: Path, parts: int = 3, hive: bool = False) -> Path:
    """The inbox with its hosp file cut into a folder of parts, Spark's bookkeeping beside."""
    shutil.copytree(inbox, target)
    table = pl.read_parquet(target / HOSP)
    (target / HOSP).unlink()
    folder = target / HOSP
    folder.mkdir()
    size = -(-table.height // parts)
    for i in range(parts):
        where = folder / (f"区=第{i}段" if hive else "")
        where.mkdir(exist_ok=True)
        table.slice(i * size, size).write_parquet(where / f"part-{i:05d}.parquet")
        (where / f".part-{i:05d}.parquet.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part-99999.parquet").write_bytes(b"half written")
    return target


def outputs(recon: Recon) -> dict[str, bytes]:
    return {name: (recon.out / name).read_bytes() for name in ("worklist.csv", "quarantine.csv")}


def test_a_dataset_is_read_as_the_file_it_was_cut_from(inbox: Path, tmp_path: Path) -> None:
    whole = Recon(tmp_path / "whole")
    assert whole.run(inbox, as_of=AS_OF).exit_code == 0
    cut = Recon(tmp_path / "cut")
    result = cut.run(as_dataset(inbox, tmp_path / "parts"), as_of=AS_OF)
    assert result.exit_code == 0, result.output
    # The same rows at the same lines: the same cases and the same quarantine, byte for byte.
    assert outputs(cut) == outputs(whole)
    files = json.loads((cut.out / "run.json").read_text(encoding="utf-8"))["files"]
    hosp = next(f for f in files if f["file"] == HOSP)
    rows = pl.read_parquet(inbox / HOSP).height
    assert hosp["rows_read"] == rows == hosp["rows_accepted"] + hosp["rows_quarantined"]
    assert hosp["rows_quarantined"] > 0  # bad rows in the parts are quarantined as in the file


def test_the_same_dataset_again_is_no_new_file_and_a_changed_part_is(
    inbox: Path, tmp_path: Path
) -> None:
    recon = Recon(tmp_path / "store")
    parts = as_dataset(inbox, tmp_path / "parts")
    assert recon.run(parts, as_of=AS_OF).exit_code == 0
    assert recon.run(parts, as_of=AS_OF).exit_code == 0
    assert recon.query("SELECT count(*) FROM files WHERE file_name = ?", [HOSP]) == [(1,)]
    last = parts / HOSP / "part-00002.parquet"
    pl.read_parquet(last).head(-1).write_parquet(last)  # a row withdrawn from the last part
    assert recon.run(parts, as_of=AS_OF).exit_code == 0
    assert recon.query("SELECT count(*) FROM files WHERE file_name = ?", [HOSP]) == [(2,)]


def test_partition_folders_give_their_column(inbox: Path, tmp_path: Path) -> None:
    recon = Recon(tmp_path / "store")
    result = recon.run(as_dataset(inbox, tmp_path / "parts", hive=True), as_of=AS_OF)
    assert result.exit_code == 0, result.output
    values = recon.query("SELECT DISTINCT extra->>'区' FROM hosp ORDER BY 1")
    assert values == [("第0段",), ("第1段",), ("第2段",)]


@pytest.mark.parametrize("stray", ["notes.csv", "year=2025/notes.txt"])
def test_a_folder_holding_anything_but_parts_is_not_read(
    inbox: Path, tmp_path: Path, stray: str
) -> None:
    parts = as_dataset(inbox, tmp_path / "parts")
    (parts / HOSP / stray).parent.mkdir(exist_ok=True)
    (parts / HOSP / stray).write_text("x", encoding="utf-8")
    recon = Recon(tmp_path / "store")
    assert recon.run(parts, as_of=AS_OF).exit_code == 5  # incomplete: no hosp feed tonight
    summary = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    assert HOSP not in {f["file"] for f in summary["files"]}
    reasons = {i["file"]: i["reason"] for i in summary["ignored"]}
    assert "Parquet" in reasons[HOSP]


def test_parts_that_disagree_on_their_columns_stop_the_night(inbox: Path, tmp_path: Path) -> None:
    parts = as_dataset(inbox, tmp_path / "parts")
    last = parts / HOSP / "part-00002.parquet"
    pl.read_parquet(last).drop("出生体重(克)").write_parquet(last)
    recon = Recon(tmp_path / "store")
    result = recon.run(parts, as_of=AS_OF)
    assert result.exit_code == 3
    assert HOSP in result.output and "Parquet" in result.output
    assert not recon.db.exists()  # the store stays as it was: here, not made
