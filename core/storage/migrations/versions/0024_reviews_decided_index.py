"""a partial index of the recognised households (reviews with a final class)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_reviews_decided', 'reviews', ['household_id'], unique=False,
                    postgresql_where=sa.text('final_class IS NOT NULL'), sqlite_where=sa.text('final_class IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_reviews_decided', table_name='reviews')
