"""WSGI entry point for gunicorn: ``gunicorn backend.wsgi:app``.

After the app is built, everything it holds (modules, settings, clients) is moved out of the cyclic
garbage collector's generations (``gc.freeze``): a full collection then walks only what requests
allocate, not the whole start-up heap (at 1M figures, full collections were the slowest searches'
tail on Elasticsearch: bench/scale_bench.py).
"""
import gc

from backend.app import create_app
from backend.observability.logs import configure as configure_logs

configure_logs()
app = create_app()
gc.collect()
gc.freeze()
