"""Workspaces, their API keys, brand kits and their versions, uploaded files.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# A migration is a snapshot: it names its column types itself rather than importing the models, which change later.
ID, NAME, KIT_NAME, HASH, FILE = sa.String(32), sa.String(128), sa.String(64), sa.String(64), sa.String(80)
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
        sa.UniqueConstraint("name", name="uq_workspaces_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("label", KIT_NAME, nullable=True),
        sa.Column("shown", ID, nullable=False),
        sa.Column("sha256", HASH, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_api_keys_workspace_id_workspaces"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("sha256", name="uq_api_keys_sha256"),
    )
    op.create_index("ix_api_keys_shown", "api_keys", ["shown"])
    op.create_index("ix_api_keys_workspace_id", "api_keys", ["workspace_id"])
    op.create_table(
        "brand_kits",
        sa.Column("id", ID, nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("name", KIT_NAME, nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("deleted_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_brand_kits_workspace_id_workspaces"),
        sa.PrimaryKeyConstraint("id", name="pk_brand_kits"),
    )
    op.create_index("ix_brand_kits_workspace_id", "brand_kits", ["workspace_id"])
    op.create_index("uq_brand_kits_live_name", "brand_kits", ["workspace_id", "name"], unique=True,
                    sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_table(
        "brand_kit_versions",
        sa.Column("kit_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", KIT_NAME, nullable=False),
        sa.Column("palette", sa.JSON(), nullable=False),
        sa.Column("headline_font", sa.JSON(), nullable=False),
        sa.Column("body_font", sa.JSON(), nullable=False),
        sa.Column("logo", FILE, nullable=True),
        sa.Column("voice_words", sa.JSON(), nullable=False),
        sa.Column("banned_words", sa.JSON(), nullable=False),
        sa.Column("disclaimer", sa.String(200), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["kit_id"], ["brand_kits.id"], name="fk_brand_kit_versions_kit_id_brand_kits"),
        sa.PrimaryKeyConstraint("kit_id", "version", name="pk_brand_kit_versions"),
    )
    op.create_table(
        "uploaded_files",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("name", FILE, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("family", KIT_NAME, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_uploaded_files_workspace_id_workspaces"),
        sa.PrimaryKeyConstraint("workspace_id", "name", name="pk_uploaded_files"),
    )


def downgrade() -> None:
    for table in ("uploaded_files", "brand_kit_versions", "brand_kits", "api_keys", "workspaces"):
        op.drop_table(table)  # their indexes go with them
