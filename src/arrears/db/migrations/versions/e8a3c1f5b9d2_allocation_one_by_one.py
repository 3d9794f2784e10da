"""payment_allocations.one_by_one: whether end of day must see the allocation by itself, with a partial index on
those and an index on value_date, so that PostgreSQL hands end of day only those (and the ones dated after its
business date) instead of every allocation; instalments at fillfactor 70 and loan_delinquency at 50 on PostgreSQL,
so that the daily penalty updates and the state rows moved to the run's date stay on their page (HOT)

Revision ID: e8a3c1f5b9d2
Revises: d7e2b4c9a1f3
Create Date: 2026-11-30 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e8a3c1f5b9d2'
down_revision = 'd7e2b4c9a1f3'
branch_labels = None
depends_on = None

_ONE_BY_ONE = sa.text('one_by_one IS NOT FALSE')
_KNOWN = "('principal', 'interest', 'fee', 'cost', 'penalty')"  # loans.one_by_one.KNOWN at this revision
# The rows already written: the same rule as loans.one_by_one, from their instalment and loan.
BACKFILL = f"""UPDATE payment_allocations SET one_by_one = (
                   value_date > (SELECT i.due_on FROM instalments i WHERE i.id = payment_allocations.instalment_id)
                   OR value_date < (SELECT l.disbursed_on FROM loans l WHERE l.id = payment_allocations.loan_id)
                   OR component NOT IN {_KNOWN})"""


def upgrade() -> None:
    op.add_column('payment_allocations', sa.Column('one_by_one', sa.Boolean(), nullable=True))
    op.execute(BACKFILL)
    op.create_index('ix_payment_allocations_one_by_one', 'payment_allocations', ['loan_id'], unique=False,
                    sqlite_where=_ONE_BY_ONE, postgresql_where=_ONE_BY_ONE)
    op.create_index('ix_payment_allocations_value_date', 'payment_allocations', ['value_date'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # New pages only: the pages written so far stay full until the table is rewritten (VACUUM FULL or
        # pg_repack in a maintenance window, docs/performance.md), or their rows move out by being updated.
        op.execute('ALTER TABLE instalments SET (fillfactor = 70)')
        op.execute('ALTER TABLE loan_delinquency SET (fillfactor = 50)')  # its rows move to each run's date


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE instalments RESET (fillfactor)')
        op.execute('ALTER TABLE loan_delinquency RESET (fillfactor)')
    op.drop_index('ix_payment_allocations_value_date', table_name='payment_allocations')
    op.drop_index('ix_payment_allocations_one_by_one', table_name='payment_allocations')
    with op.batch_alter_table('payment_allocations') as batch:
        batch.drop_column('one_by_one')
