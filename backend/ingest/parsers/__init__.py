"""Source formats -> :class:`backend.ingest.records.PatentRecord`.

:func:`backend.ingest.parsers.discover.discover` walks paths and yields one item per document (or a skip
with a reason); :func:`backend.ingest.parsers.load.load_source` turns an item's locator into a record.
"""
