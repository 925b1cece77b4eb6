"""Canary promotions, the gate's decisions and the outcomes it judged.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# A migration is a snapshot: it names its column types itself rather than importing the models, which change later.
ID, NAME, STATE = sa.String(32), sa.String(128), sa.String(16)
WHEN = sa.DateTime(timezone=True)
RUNNING = sa.text("state = 'running'")


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", ID, nullable=False),
        sa.Column("model_name", NAME, nullable=False),
        sa.Column("candidate_version", sa.Integer(), nullable=False),
        sa.Column("incumbent_version", sa.Integer(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("gate", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotions"),
    )
    op.create_index("ix_promotions_model_name", "promotions", ["model_name"])
    op.create_index("uq_promotions_running_model", "promotions", ["model_name"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)
    op.create_table(
        "promotion_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("promotion_id", ID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("decision", STATE, nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["promotion_id"], ["promotions.id"],
                                name="fk_promotion_decisions_promotion_id_promotions"),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_decisions"),
    )
    op.create_index("ix_promotion_decisions_promotion_id", "promotion_decisions", ["promotion_id"])
    op.create_table(
        "promotion_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("promotion_id", ID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("candidate", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["promotion_id"], ["promotions.id"],
                                name="fk_promotion_outcomes_promotion_id_promotions"),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_outcomes"),
    )
    op.create_index("ix_promotion_outcomes_promotion_id", "promotion_outcomes", ["promotion_id"])


def downgrade() -> None:
    for table in ("promotion_outcomes", "promotion_decisions", "promotions"):
        op.drop_table(table)  # their indexes go with them
