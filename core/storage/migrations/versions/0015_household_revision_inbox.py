"""household revision (answer caches across workers), inbox of raw updates (several workers)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('update_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'chat_id', 'update_id', name='uq_inbox_update')
    )
    op.create_index('ix_inbox_chat_seq', 'inbox', ['channel', 'chat_id', 'seq'], unique=False)
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    op.drop_index('ix_inbox_chat_seq', table_name='inbox')
    op.drop_table('inbox')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('revision')
