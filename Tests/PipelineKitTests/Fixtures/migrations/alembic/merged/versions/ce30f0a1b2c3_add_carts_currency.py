"""add carts.currency

Revision ID: ce30f0a1b2c3
Revises: ae10f0a1b2c3
Create Date: 2024-05-08 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = "ce30f0a1b2c3"
down_revision = "ae10f0a1b2c3"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("carts", sa.Column("currency", sa.String(16), nullable=True))


def downgrade():
    op.drop_column("carts", "currency")
