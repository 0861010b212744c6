#!/usr/bin/env bash
# Pre-1.0 only: rebuild the single initial migration from backend/db/models.py.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f alembic/versions/*_0001_initial_schema.py
PRISM_DATABASE_URL="sqlite:///$tmp/m.db" .venv/bin/alembic revision --autogenerate -m "initial schema" --rev-id 0001 >/dev/null
rm -rf "$tmp"
ls alembic/versions/*_0001_initial_schema.py
