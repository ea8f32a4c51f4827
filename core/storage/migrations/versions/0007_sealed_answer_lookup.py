"""sealed answer lookup

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:20:00

ID numbers and phones are sealed by the application (core.storage.sealed) with a key the
database does not hold, so this migration only adds the keyed-hash column; rows written before
it stay readable as they are and are sealed by `rasoat rekey` (README, "ID numbers at rest").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lookup', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_answers_lookup'), ['lookup'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answers_lookup'))
        batch_op.drop_column('lookup')
