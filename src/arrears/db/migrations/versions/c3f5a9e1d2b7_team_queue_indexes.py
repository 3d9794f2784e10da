"""web page indexes: loan ids (and products) in the days-past-due, bucket and team indexes (a team's queue walks
them alone, and a team's open cases' loans);
an officer's open legal tasks by due date

Revision ID: c3f5a9e1d2b7
Revises: 7d1a5e0c3b42
Create Date: 2026-11-30 12:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c3f5a9e1d2b7'
down_revision = '7d1a5e0c3b42'
branch_labels = None
depends_on = None

_WIDER = (  # (index, table, columns before, columns after)
    ('ix_loan_delinquency_dpd', 'loan_delinquency', ['dpd'], ['dpd', 'loan_id', 'product_code']),
    ('ix_loan_delinquency_bucket', 'loan_delinquency', ['bucket', 'dpd'], ['bucket', 'dpd', 'loan_id', 'product_code']),
)


def upgrade() -> None:
    for name, table, _, after in _WIDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)
    op.create_index('ix_work_tasks_team_loan', 'work_tasks', ['team', 'status', 'loan_id'], unique=False)
    op.create_index('ix_cases_open_team_loan', 'cases', ['team', 'loan_id'], unique=False,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_legal_tasks_assignee_due', 'legal_tasks', ['assignee_user_id', 'status', 'due_on', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_legal_tasks_assignee_due', table_name='legal_tasks')
    op.drop_index('ix_cases_open_team_loan', table_name='cases')
    op.drop_index('ix_work_tasks_team_loan', table_name='work_tasks')
    for name, table, before, _ in _WIDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
