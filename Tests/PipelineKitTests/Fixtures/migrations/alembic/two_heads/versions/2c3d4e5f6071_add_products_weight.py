"""add products.weight_grams (written by Bob on the shipping branch)

Revision ID: 2c3d4e5f6071
Revises: 0a1b2c3d4e5f
Create Date: 2024-04-09 11:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = "2c3d4e5f6071"
down_revision = "0a1b2c3d4e5f"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("weight_grams", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("products", "weight_grams")
