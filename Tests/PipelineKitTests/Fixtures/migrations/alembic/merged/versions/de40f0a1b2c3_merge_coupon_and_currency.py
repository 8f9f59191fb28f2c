"""merge coupon and currency branches

Revision ID: de40f0a1b2c3
Revises: be20f0a1b2c3, ce30f0a1b2c3
Create Date: 2024-05-10 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = "de40f0a1b2c3"
down_revision = ("be20f0a1b2c3", "ce30f0a1b2c3")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
