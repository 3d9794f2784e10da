"""indexes behind the negotiation desk's lists and approvals (status, id)

Revision ID: 7d3e5a1c9b20
Revises: 5e1c0de0a7b1
Create Date: 2026-11-30 08:20:00
"""
from alembic import op


revision = '7d3e5a1c9b20'
down_revision = '5e1c0de0a7b1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_hardship_applications_status_id', 'hardship_applications', ['status', 'id'], unique=False)
    op.create_index('ix_negotiations_status_id', 'negotiations', ['status', 'id'], unique=False)
    op.create_index('ix_negotiation_offers_status_id', 'negotiation_offers', ['status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_negotiation_offers_status_id', table_name='negotiation_offers')
    op.drop_index('ix_negotiations_status_id', table_name='negotiations')
    op.drop_index('ix_hardship_applications_status_id', table_name='hardship_applications')
