"""indexes for the complaint desk and legal case lists

Revision ID: 5c1e9a7d2b40
Revises: 7d3e5a1c9b20
Create Date: 2026-11-30 08:10:00
"""
from alembic import op


revision = '5c1e9a7d2b40'
down_revision = '7d3e5a1c9b20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_complaints_sla_due', 'complaints', ['sla_due_on', 'id'], unique=False)
    op.create_index('ix_complaints_status_sla_due', 'complaints', ['status', 'sla_due_on', 'id'], unique=False)
    op.create_index('ix_legal_cases_status_id', 'legal_cases', ['status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_legal_cases_status_id', table_name='legal_cases')
    op.drop_index('ix_complaints_status_sla_due', table_name='complaints')
    op.drop_index('ix_complaints_sla_due', table_name='complaints')
