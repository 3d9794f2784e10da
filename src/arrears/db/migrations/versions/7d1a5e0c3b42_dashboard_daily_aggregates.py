"""dashboard daily aggregates: portfolio_daily, roll_rate_daily

Revision ID: 7d1a5e0c3b42
Revises: a53cd4c619e0
Create Date: 2026-11-30 07:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '7d1a5e0c3b42'
down_revision = 'a53cd4c619e0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portfolio_daily',
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('team', sa.String(length=40), nullable=False),
    sa.Column('bucket', sa.String(length=20), nullable=False),
    sa.Column('classification', sa.String(length=20), nullable=False),
    sa.Column('loans', sa.Integer(), nullable=False),
    sa.Column('balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('overdue_fen', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('business_date', 'product_code', 'team', 'bucket', 'classification',
                            name=op.f('pk_portfolio_daily'))
    )
    op.create_table('roll_rate_daily',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('anchor_date', sa.Date(), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('team', sa.String(length=40), nullable=False),
    sa.Column('from_bucket', sa.String(length=20), nullable=False),
    sa.Column('to_bucket', sa.String(length=20), nullable=False),
    sa.Column('loans', sa.Integer(), nullable=False),
    sa.Column('from_balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('to_balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('recovered_fen', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_rate_daily'))
    )
    op.create_index('ix_roll_rate_daily_date', 'roll_rate_daily', ['business_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_roll_rate_daily_date', table_name='roll_rate_daily')
    op.drop_table('roll_rate_daily')
    op.drop_table('portfolio_daily')
