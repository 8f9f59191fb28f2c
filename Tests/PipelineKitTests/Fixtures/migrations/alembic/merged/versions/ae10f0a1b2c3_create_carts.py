"""create carts

Revision ID: ae10f0a1b2c3
Revises:
Create Date: 2024-05-05 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = "ae10f0a1b2c3"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "carts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
    )


def downgrade():
    op.drop_table("carts")
