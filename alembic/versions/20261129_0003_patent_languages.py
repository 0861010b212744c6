"""patents.language and patents.texts: the publication's language and its per-language title, abstract, claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patents") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("texts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patents") as batch:
        batch.drop_column("texts")
        batch.drop_column("language")
