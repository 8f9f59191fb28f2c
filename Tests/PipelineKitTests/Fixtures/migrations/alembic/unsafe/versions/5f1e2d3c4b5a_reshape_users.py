"""reshape users

Revision ID: 5f1e2d3c4b5a
Revises:
Create Date: 2024-06-03 15:21:09.442017

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5f1e2d3c4b5a"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("tenant_id", sa.Integer(), nullable=False))
    op.drop_column("users", "nickname")
    op.drop_table("user_sessions")
    op.alter_column("users", "fullname", new_column_name="display_name")
    op.rename_table("user_prefs", "preferences")
    op.alter_column("users", "age", type_=sa.SmallInteger(), existing_type=sa.Integer())
    op.alter_column("users", "email", existing_type=sa.String(255), nullable=False)
    op.create_index(op.f("ix_users_tenant_id"), "users", ["tenant_id"], unique=False)
    op.execute("ALTER TABLE users DROP COLUMN legacy_token")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("payload")


def downgrade() -> None:
    pass
