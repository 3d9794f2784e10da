"""indexes for a team's work queue (web/workbench): cases (team, status), loan_delinquency (dpd)

Revision ID: a7c3e91b2d40
Revises: 5c1e9a7d2b40
Create Date: 2026-11-30 08:30:00
"""
from alembic import op


revision = 'a7c3e91b2d40'
down_revision = '5c1e9a7d2b40'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_team_status', 'cases', ['team', 'status'], unique=False)
    op.create_index('ix_loan_delinquency_dpd', 'loan_delinquency', ['dpd'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_loan_delinquency_dpd', table_name='loan_delinquency')
    op.drop_index('ix_cases_team_status', table_name='cases')
