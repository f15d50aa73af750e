"""The Splink model's life: the shipped default, training on the county's records, and
the pairs it scores for the records exact keys left unlinked."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from recon.config import Config
from recon.link.exact import prepare
from recon.outputs import write_json
from recon.resources import sql
from recon.store.connection import connect, exclusive, query_frame

TRAINING_SAMPLE = 300_000  # records; EM needs far fewer than a county's million
MIN_TRAINING_RECORDS = 2_000
DEFAULT_MODEL = Path(__file__).with_name("link_model.json")


def fuzzy_frame(records: pl.DataFrame) -> pl.DataFrame:
    """Link records in the shape recon.link.fuzzy expects."""
    return records.select(
        pl.col("uid").alias("unique_id"),
        pl.col("feed").alias("source_dataset"),
        "child_name", "child_id", "sex", "birth_date", "mother_name", "mother_id",
        "division_code", "birth_rank",
    )  # fmt: skip


def default_model() -> Any:
    from recon.link import fuzzy

    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    return fuzzy.LinkModel(
        settings_json=data["settings_json"],
        trained_at=datetime.fromisoformat(data["trained_at"]),
        records=data["records"],
        summary=data["summary"],
    )


def fuzzy_pairs(
    con: duckdb.DuckDBPyConnection, config: Config
) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """The stored Splink model's pairs for the records exact keys left unlinked.

    Until `recon link train` has stored a model trained on the county's own records, the
    model shipped with recon (trained on generated feeds) is used.
    """
    from recon.link import fuzzy  # Splink is imported only when it is used

    model = fuzzy.load_model(con) or default_model()

    def pairs(residual: pl.DataFrame) -> pl.DataFrame:
        found = fuzzy.predict(
            model,
            fuzzy_frame(residual),
            memory_limit=str(config.store["memory_limit"]),
            max_temp_directory_size=str(config.store["max_temp_directory_size"]),
        )
        return found.select(
            pl.col("unique_id_l").alias("uid_l"),
            pl.col("unique_id_r").alias("uid_r"),
            "match_weight",
        )

    return pairs


def train_model(records: pl.DataFrame, config: Config) -> Any:
    """Train the Splink model on (a sample of) the county's records."""
    from recon.link import fuzzy

    if records.height < MIN_TRAINING_RECORDS:
        raise ValueError(
            f"only {records.height} records in the store; training needs at least "
            f"{MIN_TRAINING_RECORDS} (run `recon run` on a few nights' feeds first)"
        )
    sample = records.sample(min(records.height, TRAINING_SAMPLE), seed=1, shuffle=False)
    return fuzzy.train(
        fuzzy_frame(sample),
        memory_limit=str(config.store["memory_limit"]),
        max_temp_directory_size=str(config.store["max_temp_directory_size"]),
    )


def train_and_store(db_path: Path, config: Config, model_out: Path | None = None) -> Any:
    """`recon link train`: train on the store's current records and keep the model there."""
    from recon.link import fuzzy

    with exclusive(db_path):
        if not db_path.exists():
            raise ValueError(f"{db_path} does not exist: run `recon run` first")
        con = connect(db_path, config.store)
        try:
            records = prepare(query_frame(con, sql("link/records")))
            model = train_model(records, config)
            con.begin()
            fuzzy.save_model(con, model)
            con.commit()
        finally:
            con.close()
    if model_out is not None:
        write_json(
            {"settings_json": model.settings_json, "trained_at": model.trained_at.isoformat(),
             "records": model.records, "summary": model.summary},
            model_out,
        )  # fmt: skip
    return model
