"""Ingest: parse patent documents, caption and embed their figures, store them and index them.

Layout: ``parsers/`` (source formats -> :class:`~backend.ingest.records.PatentRecord`),
``captioning/`` (figure -> captions), ``images`` (decode, validate, normalise), ``blobstore``
(originals and thumbnails), ``pipeline`` (the steps), ``service`` (entry points used by the CLI, the API
and the Celery tasks).
"""
