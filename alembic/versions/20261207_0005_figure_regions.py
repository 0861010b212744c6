"""figures.region, figures.box, figures.sheet_key: a figure split from a multi-figure drawing sheet

A sheet holding several figures ("FIGS. 3A and 3B") is stored as one row per figure region: ``number`` is the
sheet's, ``region`` the figure's place on it (1, 2 ... in reading order; 0: the whole sheet), ``box`` its
[left, top, right, bottom] as shares of the sheet's display image, ``sheet_key`` that image.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("figures") as batch:
        batch.add_column(sa.Column("region", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("box", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sheet_key", sa.String(length=255), nullable=True))
        batch.drop_constraint("uq_figures_patent_number", type_="unique")
        batch.create_unique_constraint("uq_figures_patent_number_region", ["patent_id", "number", "region"])


def downgrade() -> None:
    op.execute("DELETE FROM figures WHERE region > 0")
    with op.batch_alter_table("figures") as batch:
        batch.drop_constraint("uq_figures_patent_number_region", type_="unique")
        batch.create_unique_constraint("uq_figures_patent_number", ["patent_id", "number"])
        batch.drop_column("sheet_key")
        batch.drop_column("box")
        batch.drop_column("region")
