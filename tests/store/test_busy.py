"""Readers and writers while another recon process holds the store (tonight's run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from conftest import Recon, hosp_row, police_row, pop_row, write_csv, write_divisions

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from recon.config import load_config
    from recon.store.connection import connect, exclusive
    db = Path(sys.argv[1])
    with exclusive(db):
        con = connect(db, load_config().store)  # a writer, as `recon run` holds it
        con.begin()
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
        con.rollback()
        con.close()
    """
)


@contextmanager
def held(db: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.wait(timeout=60)


def store(recon: Recon, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_csv(inbox / "pop_births.csv", [pop_row(性别="女")])
    write_csv(inbox / "hosp_deliveries.csv", [hosp_row()])
    write_csv(inbox / "police_births.csv", [police_row()])
    write_divisions(inbox)
    assert recon.run(inbox, as_of=date(2024, 12, 31)).exit_code == 0


def test_a_busy_store_is_exit_4_in_words_not_duckdbs(recon: Recon, tmp_path: Path) -> None:
    store(recon, tmp_path)
    with held(recon.db, 8):
        for command in (
            ("report", "--out", str(tmp_path / "report")),
            ("audit", "verify"),
            ("apply", "--out", str(recon.out)),
            ("worklist", "export", "--out", str(tmp_path / "w.xlsx")),
        ):
            result = recon(*command, "--db", str(recon.db))
            assert result.exit_code == 4, (command, result.output)
            assert "正被另一个 recon 进程使用" in result.output and "--wait" in result.output
            assert "IO Error" not in result.output and "duckdb.org" not in result.output


def test_with_wait_a_reader_and_a_writer_go_on_once_the_store_is_free(
    recon: Recon, tmp_path: Path
) -> None:
    store(recon, tmp_path)
    with held(recon.db, 4):
        result = recon("audit", "verify", "--db", str(recon.db), "--wait", "60")
        assert result.exit_code == 0, result.output
        assert "等待中" in result.output and "审计日志完整" in result.output
    with held(recon.db, 4):
        book = tmp_path / "w.xlsx"
        result = recon("worklist", "export", "--db", str(recon.db), "--out", str(book),
                       "--wait", "60")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert book.exists()
