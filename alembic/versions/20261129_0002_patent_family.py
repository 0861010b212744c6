"""patents.family_id: the patent family (DOCDB id, listed members or earliest filing)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patents") as batch:
        batch.add_column(sa.Column("family_id", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_patents_family_id"), ["family_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patents") as batch:
        batch.drop_index(batch.f("ix_patents_family_id"))
        batch.drop_column("family_id")
