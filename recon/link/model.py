"""The Splink model's life: the shipped default, training on the county's records, and
the pairs it scores for the records exact keys left unlinked."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from recon.config import Config
from recon.link.exact import FuzzyPairs, prepare
from recon.outputs import write_json
from recon.resources import sql
from recon.store.connection import connect, exclusive, query_frame

TRAINING_SAMPLE = 300_000  # records; EM needs far fewer than a county's million
MIN_TRAINING_RECORDS = 2_000
DEFAULT_MODEL = Path(__file__).with_name("link_model.json")

if TYPE_CHECKING:
    from recon.link.fuzzy import LinkModel


def fuzzy_frame(records: pl.DataFrame) -> pl.DataFrame:
    """Link records in the shape recon.link.fuzzy expects (with the name keys the exact
    passes read, when they did)."""
    keys = [c for c in ("child_name_py", "mother_name_py") if c in records.columns]
    return records.select(
        pl.col("uid").alias("unique_id"),
        pl.col("feed").alias("source_dataset"),
        "child_name", "child_id", "sex", "birth_date", "mother_name", "mother_id",
        "division_code", "birth_rank", *keys,
    )  # fmt: skip


def default_model() -> LinkModel:
    from recon.link import fuzzy

    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    return fuzzy.LinkModel(
        settings_json=data["settings_json"],
        trained_at=datetime.fromisoformat(data["trained_at"]),
        records=data["records"],
        summary=data["summary"],
    )


def stored_model(con: duckdb.DuckDBPyConnection) -> LinkModel:
    """The model `recon link train` stored, or until then the one shipped with recon
    (trained on generated feeds)."""
    from recon.link import fuzzy  # Splink is imported only when it is used

    return fuzzy.load_model(con) or default_model()


def fuzzy_pairs(model: LinkModel, config: Config) -> FuzzyPairs:
    """The model's pairs for the records exact keys left unlinked (Splink on a private
    DuckDB). Picklable, so that a Spark task can score its part with it."""
    memory_limit = str(config.store["memory_limit"])
    max_temp = str(config.store["max_temp_directory_size"])

    def pairs(residual: pl.DataFrame) -> pl.DataFrame:
        from recon.link import fuzzy

        found = fuzzy.predict(
            model,
            fuzzy_frame(residual),
            memory_limit=memory_limit,
            max_temp_directory_size=max_temp,
        )
        return link_pairs(found)

    return pairs


def link_pairs(found: pl.DataFrame) -> pl.DataFrame:
    """Splink's scored pairs as recon.link.exact takes them."""
    return found.select(
        pl.col("unique_id_l").alias("uid_l"), pl.col("unique_id_r").alias("uid_r"), "match_weight"
    )


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
