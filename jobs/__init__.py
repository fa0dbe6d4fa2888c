"""Tenken: reconcile My Number links of 29 data holders against the resident register."""

__version__ = "0.1.0"
