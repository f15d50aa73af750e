"""The Spark engine: each part of the link and of reconcile is one Spark task.

The driver (this process) keeps the store. For each part it writes the part's input
tables as Parquet into the work folder; one task per part (`mapInArrow` over a range of
part numbers, one row per Spark partition) reads them, runs the very function the
embedded engine runs, and writes its output tables beside them; the driver reads them
back in part order and stores them. The pass across the parts scores its pairs with the
frozen Splink model rendered for Spark (recon/link/spark_model.py).

On a cluster the work folder must be one every executor reads and writes (a shared
mount) and recon must be installed on the executors.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from recon.config import Config, EngineSettings
from recon.engine import EngineUnavailable, PartFn, Tables
from recon.link.exact import FuzzyPairs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from recon.link.fuzzy import LinkModel

JAVA_MIN = 17
INSTALL_PYSPARK = "pip install 'recon[spark]'"
INSTALL_JAVA = "Debian: apt-get install openjdk-17-jre-headless, or set JAVA_HOME"


class Spark:
    in_process = False

    def __init__(self, config: Config) -> None:
        self.settings = config.engine
        self._spark: SparkSession | None = None
        self._work: tempfile.TemporaryDirectory[str] | None = None

    @property
    def work(self) -> Path:
        if self._work is None:
            parent = self.settings.work_dir
            if parent is not None:
                parent.mkdir(parents=True, exist_ok=True)
            self._work = tempfile.TemporaryDirectory(prefix="recon-spark-", dir=parent)
        return Path(self._work.name)

    def session(self) -> SparkSession:
        if self._spark is None:
            self._spark = start_session(self.settings, self.work)
        return self._spark

    def map_parts(
        self, fn: PartFn, parts: Sequence[int], inputs: Callable[[int], Tables]
    ) -> Iterator[tuple[int, Tables]]:
        spark = self.session()
        job = Path(tempfile.mkdtemp(prefix="parts-", dir=self.work))
        for part in parts:  # one part's frames in this process at a time
            write_tables(job / "in" / str(part), inputs(part))
        task = _PartTask(fn, str(job), list(parts))
        done = (
            spark.range(0, len(parts), 1, numPartitions=max(1, len(parts)))
            .mapInArrow(task, "part long, tables long")
            .collect()
        )
        if sorted(row["part"] for row in done) != sorted(parts):
            raise RuntimeError(f"Spark ran parts {[r['part'] for r in done]}, not {list(parts)}")
        try:
            for part in parts:
                yield part, read_tables(job / "out" / str(part))
        finally:
            shutil.rmtree(job, ignore_errors=True)

    def fuzzy_pairs(self, model: LinkModel, config: Config) -> FuzzyPairs:
        from recon.link import spark_model
        from recon.link.fuzzy import DEFAULT_MIN_MATCH_WEIGHT
        from recon.link.model import fuzzy_frame, link_pairs

        spark = self.session()

        def pairs(residual: pl.DataFrame) -> pl.DataFrame:
            found = spark_model.predict(
                spark, model, fuzzy_frame(residual), DEFAULT_MIN_MATCH_WEIGHT
            )
            return link_pairs(found)

        return pairs

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None
        if self._work is not None:
            self._work.cleanup()
            self._work = None


@dataclass(frozen=True)
class _PartTask:
    """What each Spark task runs (pickled to the executors): its parts' inputs from the
    work folder, through `fn`, and its outputs back there."""

    fn: PartFn
    job: str
    parts: list[int]

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            for index in batch.column("id").to_pylist():
                part = self.parts[index]
                tables = self.fn(read_tables(Path(self.job, "in", str(part))))
                write_tables(Path(self.job, "out", str(part)), tables)
                yield pa.RecordBatch.from_pydict(
                    {"part": [part], "tables": [len(tables)]},
                    schema=pa.schema([("part", pa.int64()), ("tables", pa.int64())]),
                )


def write_tables(folder: Path, tables: Tables) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        partial = folder / f".{name}.parquet"
        frame.write_parquet(partial)
        partial.replace(folder / f"{name}.parquet")  # a retried task never leaves half a file


def read_tables(folder: Path) -> Tables:
    # glob=False: a folder named like "local[2]" is no pattern.
    return {
        path.stem: pl.read_parquet(path, glob=False) for path in sorted(folder.glob("*.parquet"))
    }


def java_version(java: str) -> int | None:
    """The major version `java -version` reports (1.8 -> 8), or None if it does not run."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def check_java() -> str:
    """The java Spark will start, checked to be Java 17 or newer."""
    home = os.environ.get("JAVA_HOME", "").strip()
    java = str(Path(home, "bin", "java")) if home else shutil.which("java")
    where = f"JAVA_HOME={home}" if home else "PATH"
    if not java or not Path(java).exists():
        raise EngineUnavailable(
            f"the Spark engine needs Java {JAVA_MIN} and found no java on {where} ({INSTALL_JAVA})"
        )
    version = java_version(java)
    if version is None:
        raise EngineUnavailable(f"{java} does not run ({INSTALL_JAVA})")
    if version < JAVA_MIN:
        raise EngineUnavailable(
            f"the Spark engine needs Java {JAVA_MIN} or newer; {java} is Java {version} "
            f"({INSTALL_JAVA})"
        )
    return java


def check_available() -> None:
    """pyspark importable and Java 17 or newer, or EngineUnavailable naming what is not."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineUnavailable(
            f"the Spark engine needs pyspark, which is not installed ({INSTALL_PYSPARK})"
        ) from None
    check_java()


def start_session(settings: EngineSettings, work: Path) -> SparkSession:
    """A Spark session with the engine's settings; EngineUnavailable says what is missing."""
    check_available()
    from pyspark.sql import SparkSession

    # The executors' Python must be this one: it has recon and its libraries.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_DIRS", str(work / "local"))  # Spark's scratch
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName("recon")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
    )
    # The JVM and its Python workers write their own log to the standard error they are
    # started with: at their start it is pointed at a file, so that a night's log (cron
    # mails it) holds what recon says, not Spark's start-up chatter. A failure still
    # reaches recon as an exception, and the file's last lines are quoted below.
    log = work / "spark.log"
    with log.open("ab") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # py4j and pyspark raise many kinds; say which, and stop
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise EngineUnavailable(
                f"Spark did not start on {settings.spark_master}: {first}"
                + (f" (Spark said: {tail})" if tail else "")
            ) from None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(work / "checkpoints"))
    return spark
