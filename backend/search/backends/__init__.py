"""The two retrieval backends: embedded (SQLite + NumPy) and Elasticsearch."""
