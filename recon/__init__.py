"""recon: reconcile birth records across the population register, hospitals and police."""

import os
import warnings

__version__ = "0.1.0"

# Where pyspark is installed (recon[spark]), pandera imports pyspark.pandas when it is
# imported, and pyspark warns about pandas 3 on every run, in every cron log. recon never
# uses pyspark.pandas.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

# Polars' allocator (jemalloc) hands freed pages back to the kernel after half a second,
# and the next big frame faults them in again, zeroed: at ten million births a quarter
# of the night's CPU time was the kernel's (236 of 1,021 CPU-seconds). Kept five seconds,
# the pages are reused (bench/README.md, 2026-12-03 night). Read when Polars is first
# imported, so it is set here, before any stage imports it; a value the environment
# already gives is left alone.
ALLOCATOR_DECAY = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_DECAY)
