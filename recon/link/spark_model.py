"""The frozen Splink model on Spark: the pass across the parts scored by the cluster.

The stored model is Splink's settings with DuckDB SQL in every level. Read by Spark as
they stand they score every pair wrong without a word: `"sex_l" = "sex_r"` compares two
string literals there. So each level's condition is parsed as DuckDB SQL and written out
as Spark SQL (sqlglot, which Splink itself uses), the blocking rules are rendered by
Splink for Spark, and m and u stay the model's: the model is trained once (on DuckDB)
and frozen. DuckDB's string functions that Spark lacks are registered as Python
functions that compute exactly what DuckDB computes (recon/link/similarity.py), not
Splink's jar, whose Jaro-Winkler differs.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import sqlglot

from recon.link import similarity

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from recon.link.fuzzy import LinkModel

SPARK = "spark"
# The names the rendered SQL calls (sqlglot writes DuckDB's jaro_winkler_similarity as
# JAROWINKLER_SIMILARITY) -> the function computing DuckDB's result, and its Spark type.
FUNCTIONS = {
    "jarowinkler_similarity": (similarity.jaro_winkler, "double"),
    "jaro_winkler_similarity": (similarity.jaro_winkler, "double"),
    "hamming": (similarity.hamming, "int"),
    "damerau_levenshtein": (similarity.damerau_levenshtein, "int"),
}


def condition(sql: str) -> str:
    """One level's DuckDB condition as Spark SQL (Splink's bare ELSE is no expression)."""
    if sql.strip().upper() == "ELSE":
        return sql
    return str(sqlglot.transpile(sql, read="duckdb", write=SPARK)[0])


def spark_settings(model: LinkModel) -> dict[str, Any]:
    """The settings the DuckDB predict scores with, rendered for Spark."""
    from recon.link.fuzzy import predict_settings

    settings = predict_settings(model, SPARK)
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = condition(level["sql_condition"])
    settings["sql_dialect"] = SPARK
    return settings


def register_functions(spark: SparkSession) -> None:
    from pyspark.sql.functions import udf

    for name, (function, kind) in FUNCTIONS.items():
        spark.udf.register(name, udf(function, kind, useArrow=True))


def predict(
    spark: SparkSession, model: LinkModel, frame: pl.DataFrame, min_match_weight: float
) -> pl.DataFrame:
    # Splink's Spark backend writes what it computes as Parquet under the checkpoint
    # folder (the engine sets it), which cuts Spark's plans short.
    """recon.link.fuzzy.predict on Spark: the same pairs with the same weights."""
    from splink import Linker, SparkAPI

    from recon.link import fuzzy

    fuzzy._quiet_splink()
    prepared = fuzzy.prepare(frame)
    feeds = sorted(prepared["source_dataset"].drop_nulls().unique().to_list())
    if len(feeds) < 2:
        return pl.DataFrame(schema=fuzzy.PAIRS_SCHEMA)
    register_functions(spark)
    db_api = SparkAPI(spark_session=spark, register_udfs_automatically=False)
    # Temporary views of names of their own: the session may score again tonight.
    run = uuid.uuid4().hex[:12]
    tables = [
        db_api.register(
            to_spark(spark, prepared.filter(pl.col("source_dataset") == feed)),
            table_name=f"recon_{feed}_{run}",
            dataset_display_name=feed,
        )
        for feed in feeds
    ]
    try:
        linker = Linker(tables, spark_settings(model), log_level=None)
        scored = linker.inference.predict(
            threshold_match_weight=min_match_weight, warning_mode="never"
        )
        pairs = from_spark(
            spark.sql(
                f"SELECT {', '.join(fuzzy.PAIRS_SCHEMA)} FROM {scored.physical_name}"
                " ORDER BY unique_id_l, unique_id_r"
            )
        )
        scored.drop_table_from_database_and_remove_from_cache()
    finally:
        for feed in feeds:
            spark.catalog.dropTempView(f"recon_{feed}_{run}")
    return pairs.cast(pl.Schema(fuzzy.PAIRS_SCHEMA))


def to_spark(spark: SparkSession, frame: pl.DataFrame) -> Any:
    """A Spark DataFrame of the frame, dates as dates (not timestamps)."""
    table = frame.to_arrow()
    if int(spark.version.split(".")[0]) >= 4:
        return spark.createDataFrame(table)
    from pyspark.sql.pandas.types import from_arrow_schema  # Spark 3.5 takes no Arrow

    return spark.createDataFrame(
        table.to_pandas(date_as_object=True), schema=from_arrow_schema(table.schema)
    )


def from_spark(frame: Any) -> pl.DataFrame:
    table = (
        frame.toArrow()
        if hasattr(frame, "toArrow")
        else pa.Table.from_pandas(frame.toPandas(), preserve_index=False)
    )
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result
