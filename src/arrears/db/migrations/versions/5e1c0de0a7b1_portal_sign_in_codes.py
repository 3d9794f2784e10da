"""portal sign-in codes

Revision ID: 5e1c0de0a7b1
Revises: d4564004e738
Create Date: 2026-11-30 08:10:00
"""
from alembic import op
import sqlalchemy as sa
import arrears.db.base


revision = '5e1c0de0a7b1'
down_revision = 'd4564004e738'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('borrower_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', arrears.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', arrears.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', arrears.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['borrower_id'], ['borrowers.id'], name=op.f('fk_sign_in_codes_borrower_id_borrowers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_codes'))
    )
    with op.batch_alter_table('sign_in_codes', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_codes_borrower_time', ['borrower_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_codes_borrower_time')
    op.drop_table('sign_in_codes')
