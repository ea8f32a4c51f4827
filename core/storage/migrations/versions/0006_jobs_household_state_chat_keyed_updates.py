"""report jobs, survey position on the household, updates keyed by chat, disabled users,
private notice subscriptions, reopen reason

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_report_jobs_status', ['status', 'claimed_until'], unique=False)

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reopened_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reopen_reason', sa.String(length=300), nullable=True))
        batch_op.create_foreign_key('fk_households_reopened_by', 'users', ['reopened_by'], ['id'])
    # a draft's position moves from the chat to the household it belongs to
    op.execute("UPDATE households SET state = (SELECT c.state FROM conversations c "
               "WHERE c.household_id = households.id ORDER BY c.updated_at DESC LIMIT 1)")

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('chat_id', sa.String(length=64), nullable=True))

    with op.batch_alter_table('group_bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_private', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.execute("UPDATE users SET chat_id = (SELECT c.chat_id FROM conversations c WHERE c.user_id = users.id "
               "ORDER BY c.updated_at DESC LIMIT 1)")

    # the processed-update key gains the chat: (channel, chat_id, update_id); the first key had
    # no constraint name, so the table is rebuilt rather than altered (same on both stores)
    _rebuild_processed_updates(['channel', 'chat_id', 'update_id'])


def _rebuild_processed_updates(key: list[str]) -> None:
    op.create_table('processed_updates_new',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('update_id', sa.String(length=64), nullable=False),
    sa.Column('reply', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint(*key)
    )
    columns = "channel, chat_id, update_id, reply, at, delivered_at"
    op.execute(f"INSERT INTO processed_updates_new ({columns}) SELECT {columns} FROM processed_updates")
    op.drop_table('processed_updates')
    op.rename_table('processed_updates_new', 'processed_updates')


def downgrade() -> None:
    op.execute("DELETE FROM processed_updates WHERE EXISTS (SELECT 1 FROM processed_updates p2 "
               "WHERE p2.channel = processed_updates.channel AND p2.update_id = processed_updates.update_id "
               "AND p2.chat_id < processed_updates.chat_id)")
    _rebuild_processed_updates(['channel', 'update_id'])
    with op.batch_alter_table('group_bindings', schema=None) as batch_op:
        batch_op.drop_column('is_private')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('chat_id')
        batch_op.drop_column('disabled_at')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_constraint('fk_households_reopened_by', type_='foreignkey')
        batch_op.drop_column('reopen_reason')
        batch_op.drop_column('reopened_by')
        batch_op.drop_column('reopened_at')
        batch_op.drop_column('state')
    with op.batch_alter_table('report_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_report_jobs_status')
    op.drop_table('report_jobs')
