"""the safe way to do what 5f1e2d3c4b5a did

Revision ID: 6a7b8c9d0e1f
Revises: 5f1e2d3c4b5a
Create Date: 2024-06-04 09:12:55.100233

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "6a7b8c9d0e1f"
down_revision: Union[str, None] = "5f1e2d3c4b5a"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Expand: new columns are nullable or have a server default.
    op.add_column("users", sa.Column("locale", sa.String(8), nullable=False, server_default="en"))
    op.add_column("users", sa.Column("bio", sa.Text(), nullable=True))
    op.alter_column("users", "bio", existing_type=sa.Text(), server_default="")
    op.alter_column("users", "email", existing_type=sa.String(255), nullable=True)
    # A brand-new table may be shaped freely.
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.add_column("api_keys", sa.Column("secret_hash", sa.String(128), nullable=False))
    op.execute(
        "CREATE TABLE login_attempts (id bigserial PRIMARY KEY, user_id bigint NOT NULL); "
        "CREATE INDEX login_attempts_user_id_idx ON login_attempts (user_id)"
    )
    op.execute(sa.text("UPDATE users SET locale = 'en' WHERE locale IS NULL"))
    with op.get_context().autocommit_block():
        op.create_index("ix_users_locale", "users", ["locale"], postgresql_concurrently=True)
        op.execute("""
            CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_created_at
                ON users (created_at)
        """)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_users_created_at")
        op.drop_index("ix_users_locale", table_name="users", postgresql_concurrently=True)
    op.execute("DROP TABLE login_attempts")
    op.drop_table("api_keys")
    op.alter_column("users", "bio", existing_type=sa.Text(), server_default=None)
    op.drop_column("users", "bio")
    op.drop_column("users", "locale")
