"""Celery workers: ingest (parse, caption, embed, index) and watch runs."""
