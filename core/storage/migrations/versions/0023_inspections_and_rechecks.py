"""inspections, re-checks and their written sections

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['confirmed_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_plan_id'), ['plan_id'], unique=False)

    op.create_table('inspected_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=True),
    sa.Column('picked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sample_seed', sa.Integer(), nullable=True),
    sa.Column('sampled_by', sa.Integer(), nullable=True),
    sa.Column('sampled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sampled_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inspection_id', 'unit_id', name='uq_inspected_units')
    )
    with op.batch_alter_table('inspected_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspected_units_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspected_units_unit_id'), ['unit_id'], unique=False)

    op.create_table('inspection_invites',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['code'], ['invite_codes.code'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code')
    )
    with op.batch_alter_table('inspection_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_invites_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.String(length=40), nullable=False),
    sa.Column('section', sa.String(length=40), nullable=False),
    sa.Column('text', sa.String(length=4000), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inspection_id', 'unit_id', 'document', 'section', name='uq_inspection_texts')
    )
    with op.batch_alter_table('inspection_texts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_texts_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('rechecks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspected_unit_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('stratum', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('state', sa.JSON(), nullable=True),
    sa.Column('inspector_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('original_class', sa.String(length=16), nullable=True),
    sa.Column('found_class', sa.String(length=16), nullable=True),
    sa.Column('compared', sa.Integer(), nullable=True),
    sa.Column('agreed', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspected_unit_id'], ['inspected_units.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inspected_unit_id', 'household_id', name='uq_rechecks_household')
    )
    with op.batch_alter_table('rechecks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rechecks_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rechecks_inspected_unit_id'), ['inspected_unit_id'], unique=False)

    op.create_table('recheck_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recheck_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['recheck_id'], ['rechecks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('recheck_id', 'key', name='uq_recheck_answers_key')
    )
    with op.batch_alter_table('recheck_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_answers_recheck_id'), ['recheck_id'], unique=False)

    op.create_table('recheck_differences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recheck_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('resolution', sa.String(length=10), nullable=True),
    sa.Column('explanation', sa.String(length=500), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recheck_id'], ['rechecks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('recheck_id', 'key', name='uq_recheck_differences_key')
    )
    with op.batch_alter_table('recheck_differences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_differences_recheck_id'), ['recheck_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('recheck_differences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_differences_recheck_id'))

    op.drop_table('recheck_differences')
    with op.batch_alter_table('recheck_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_answers_recheck_id'))

    op.drop_table('recheck_answers')
    with op.batch_alter_table('rechecks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rechecks_inspected_unit_id'))
        batch_op.drop_index(batch_op.f('ix_rechecks_household_id'))

    op.drop_table('rechecks')
    with op.batch_alter_table('inspection_texts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_texts_inspection_id'))

    op.drop_table('inspection_texts')
    with op.batch_alter_table('inspection_invites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_invites_inspection_id'))

    op.drop_table('inspection_invites')
    with op.batch_alter_table('inspected_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspected_units_unit_id'))
        batch_op.drop_index(batch_op.f('ix_inspected_units_inspection_id'))

    op.drop_table('inspected_units')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_plan_id'))

    op.drop_table('inspections')
