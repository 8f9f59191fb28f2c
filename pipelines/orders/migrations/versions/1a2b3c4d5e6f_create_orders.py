"""create orders

Revision ID: 1a2b3c4d5e6f
Revises:
Create Date: 2024-03-11 09:02:41.503112

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1a2b3c4d5e6f'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('total_cents', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # A new table: indexing it cannot block anyone.
    op.create_index(op.f('ix_orders_customer_id'), 'orders', ['customer_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_orders_customer_id'), table_name='orders')
    op.drop_table('orders')
