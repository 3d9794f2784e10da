"""dashboard filter indexes: a product's loan ids and a team's cases read off indexes alone; refused contacts by time

Revision ID: d7e2b4c9a1f3
Revises: c3f5a9e1d2b7
Create Date: 2026-11-30 13:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd7e2b4c9a1f3'
down_revision = 'c3f5a9e1d2b7'
branch_labels = None
depends_on = None

_WIDER = (  # (index, table, columns before, columns after)
    ('ix_loans_product_code', 'loans', ['product_code'], ['product_code', 'id']),
    ('ix_cases_loan_id', 'cases', ['loan_id'], ['loan_id', 'team']),
)
_REFUSED = sa.column('allowed').is_(False)


def upgrade() -> None:
    for name, table, _, after in _WIDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)
    op.create_index('ix_cases_team_id', 'cases', ['team', 'id'], unique=False)
    op.create_index('ix_contact_log_refused_at', 'contact_log', ['at'], unique=False,
                    sqlite_where=_REFUSED, postgresql_where=_REFUSED)


def downgrade() -> None:
    op.drop_index('ix_contact_log_refused_at', table_name='contact_log')
    op.drop_index('ix_cases_team_id', table_name='cases')
    for name, table, before, _ in _WIDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
