"""The optional ingest-time watch check (``settings.watch_check_on_ingest``): what ingest calls once a
batch is committed and indexed. Apart from :mod:`dispatch` (webhook deliveries) so that the runner and
the dispatcher do not import each other."""
from __future__ import annotations

import logging

from backend.settings import Settings
from backend.task_queue import WATCHES_CHECK_NEW

log = logging.getLogger(__name__)


def enqueue_ingest_check(publication_numbers: list[str], settings: Settings) -> None:
    """Check these freshly indexed patents against the watches now: in-process in eager mode, else as
    one task on the watches queue. Never raises: ingest does not fail because of monitoring; the
    scheduled runs still see them."""
    if not publication_numbers or not settings.watch_check_on_ingest:
        return
    try:
        if settings.task_mode == "eager":
            from backend.monitoring.runner import check_new_document

            for pub in publication_numbers:
                check_new_document(pub, settings)
        else:
            from backend.task_queue import send

            send(WATCHES_CHECK_NEW, [list(publication_numbers)], settings)
    except Exception:  # noqa: BLE001
        log.exception("could not hand %d new patents to the ingest-time watch check",
                      len(publication_numbers))
