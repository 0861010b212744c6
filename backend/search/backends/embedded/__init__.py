"""The single-machine backend: SQLite FTS5 text and exact NumPy vectors."""
