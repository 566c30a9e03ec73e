"""The store: the only place that writes user data (SQLite by default, PostgreSQL by URL)."""

from draftsmith.store.db import AREAS, METADATA, Store, add_column, close_all, default_url, open_store

__all__ = ["AREAS", "METADATA", "Store", "add_column", "close_all", "default_url", "open_store"]
