"""Benchmark: do the Spark engine's part tasks scale with cores? local[1] against local[2].

Links a stored night's records cut into parts of `--parts-of` births, as the link stage
cuts them, once on the embedded engine and once per Spark master, and times the tasks
alone (the Spark job, not the driver writing their inputs or reading their outputs).

    python bench/spark_parts.py --db bench/data/engines-1m/recon.duckdb --parts-of 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from recon.config import load_config
from recon.engine.spark import Spark, _PartTask, read_tables, write_tables
from recon.link import partition
from recon.link.exact import prepare
from recon.link.model import fuzzy_pairs, stored_model
from recon.link.stage import link_part
from recon.resources import sql
from recon.store.connection import connect

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--parts-of", type=int, default=100_000)
    args = parser.parse_args()
    config = load_config()
    con = connect(args.db, config.store, read_only=False)
    partition.materialise(con)
    months = [(m, int(n)) for m, n in con.execute(sql("link/record_months")).fetchall()]
    cut = partition.plan(months, args.parts_of * partition.RECORDS_PER_BIRTH)
    task = partial(link_part, fuzzy=fuzzy_pairs(stored_model(con), config), min_match_weight=10.0)
    results: dict[str, float] = {}
    job = Path(tempfile.mkdtemp(prefix="recon-bench-"))
    for number, (first, last) in enumerate(cut):
        write_tables(
            job / "in" / str(number), {"records": prepare(partition.part_records(con, first, last))}
        )
    con.close()
    start = time.perf_counter()
    for number in range(len(cut)):
        task(read_tables(job / "in" / str(number)))
    results["embedded"] = round(time.perf_counter() - start, 1)
    print(f"{len(cut)} parts; embedded, one after another: {results['embedded']} s", flush=True)
    for master in ("local[1]", "local[2]"):
        spark = Spark(
            replace(config, engine=replace(config.engine, name="spark", spark_master=master))
        )
        session = spark.session()
        parts = list(range(len(cut)))
        session.range(0, 1).count()  # the session up before the clock starts
        start = time.perf_counter()
        session.range(0, len(parts), 1, numPartitions=len(parts)).mapInArrow(
            _PartTask(task, str(job), parts), "part long, tables long"
        ).collect()
        results[master] = round(time.perf_counter() - start, 1)
        print(f"spark {master}: the {len(parts)} tasks took {results[master]} s", flush=True)
        spark.close()
    shutil.rmtree(job)
    out = HERE / "results" / "spark-parts.json"
    out.write_text(
        json.dumps({"parts": len(cut), "parts_of": args.parts_of, **results}, indent=2) + "\n"
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
