"""recon: reconcile birth records across the population register, hospitals and police."""

__version__ = "0.1.0"
