"""add products.sku (written by Alice on the catalogue branch)

Revision ID: 1b2c3d4e5f60
Revises: 0a1b2c3d4e5f
Create Date: 2024-04-08 16:12:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = "1b2c3d4e5f60"
down_revision = "0a1b2c3d4e5f"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("sku", sa.String(40), nullable=True))


def downgrade():
    op.drop_column("products", "sku")
