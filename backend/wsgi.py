"""WSGI entry point for gunicorn: ``gunicorn backend.wsgi:app``.

After the app is built, everything it holds (modules, settings, clients) is moved out of the cyclic
garbage collector's generations (``gc.freeze``): a full collection then walks only what requests
allocate, not the whole start-up heap (at 1M figures, full collections were the slowest searches'
tail on Elasticsearch: bench/scale_bench.py). The worker loads its models in a thread as it starts
(:mod:`backend.warmup`; ``/readyz`` says ``warming`` until they are in), not in its first search. In
eager mode a starting worker re-drives the ingest jobs of a worker that died
(:func:`backend.ingest.jobs.redrive_orphaned_at_start`).
"""
import gc

from backend.app import create_app
from backend.ingest.jobs import redrive_orphaned_at_start
from backend.observability.logs import configure as configure_logs
from backend.warmup import start_background as warm_up_in_background

configure_logs()
app = create_app()
gc.collect()
gc.freeze()
warming = warm_up_in_background(app.extensions["prism.settings"], search=True)
# eager mode: the jobs of a worker that died (OOM, gunicorn's timeout) are run again by the one replacing it
redriving = redrive_orphaned_at_start(app.extensions["prism.settings"])
