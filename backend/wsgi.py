"""WSGI entry point for gunicorn: ``gunicorn backend.wsgi:app``."""
from backend.app import create_app

app = create_app()
