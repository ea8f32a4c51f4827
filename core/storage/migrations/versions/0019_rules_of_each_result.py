"""every result knows its rules: pack version, content digest and provisional mark per household

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('households') as batch:
        batch.add_column(sa.Column('pack_version', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('pack_digest', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('provisional', sa.Boolean(), nullable=True))
    # every result before this revision was computed with the shipped, provisional files
    op.execute("UPDATE households SET pack_version = 0 WHERE pack_id IS NOT NULL")
    op.execute("UPDATE households SET provisional = true WHERE outcome IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('households') as batch:
        batch.drop_column('provisional')
        batch.drop_column('pack_digest')
        batch.drop_column('pack_version')
