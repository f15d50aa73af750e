"""The store's script runner: DuckDB's parser decides where a statement ends."""

from __future__ import annotations

import duckdb

from recon.store.connection import execute_script

SCRIPT = """
CREATE TEMP TABLE notes (run_id INTEGER, note VARCHAR);
-- a comment that ends a line with a semicolon;
INSERT INTO notes VALUES ($run_id, 'first line;
second line');
/* a block comment;
   spanning lines */
INSERT INTO notes VALUES ($run, 'plain')
"""


def test_a_semicolon_at_a_line_end_inside_a_literal_or_comment_ends_no_statement() -> None:
    con = duckdb.connect()
    con.begin()  # scripts run inside the run's transaction
    # $run and $run_id are different parameters: each statement gets only its own.
    execute_script(con, SCRIPT, {"run_id": 7, "run": 8, "unused": "x"})
    assert con.execute("SELECT run_id, note FROM notes ORDER BY run_id").fetchall() == [
        (7, "first line;\nsecond line"),
        (8, "plain"),
    ]
    con.rollback()


def test_an_empty_script_or_only_comments_runs_nothing() -> None:
    con = duckdb.connect()
    execute_script(con, "-- nothing here;\n\n", {"run_id": 1})
    execute_script(con, "")
