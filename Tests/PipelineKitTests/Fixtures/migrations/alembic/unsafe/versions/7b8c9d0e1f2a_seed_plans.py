"""seed the plan catalogue

Revision ID: 7b8c9d0e1f2a
Revises: 6a7b8c9d0e1f
Create Date: 2024-06-10 11:00:00.000000

"""
from alembic import op

revision = "7b8c9d0e1f2a"
down_revision = "6a7b8c9d0e1f"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        """
        INSERT INTO plans (code, name)
        VALUES ('free', 'Free'), ('team', 'Team')
        """
    )
    # Replace the old lookup in one go; the application reads plans.code only.
    op.execute("""
        -- pipeline: allow dropping-table
        DROP TABLE plan_codes_v1;
        ALTER TABLE plans RENAME COLUMN label TO name_v1;
    """)


def downgrade():
    """Seed data stays: nothing to undo."""
    # Deliberately empty: the seeded rows are kept (this fixture must still be flagged).
    ...
