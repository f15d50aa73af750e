"""recon: reconcile birth records across the population register, hospitals and police."""

import warnings

__version__ = "0.1.0"

# Where pyspark is installed (recon[spark]), pandera imports pyspark.pandas when it is
# imported, and pyspark warns about pandas 3 on every run, in every cron log. recon never
# uses pyspark.pandas.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
