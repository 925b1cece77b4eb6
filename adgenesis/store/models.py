"""The store's tables, as SQLAlchemy 2 typed models. The schema itself is made by the migrations
(adgenesis/store/migrations/versions/), which tests/test_store.py checks against these models on both databases.

- `workspaces`: who owns kits; API keys are issued per workspace.
- `api_keys`: a key's sha256 and its first characters, never the key (adgenesis/store/keys.py); revocable.
- `brand_kits`: one row per kit: its current name and latest version; deleting sets `deleted_at` only, so that the
  designs made with it still render.
- `brand_kit_versions`: every version of every kit, never changed once written (`before_update` below refuses).
- `uploaded_files`: the logos and fonts a workspace uploaded, by content-hash file name (the bytes are in the
  uploads folder, adgenesis/brand.py `kit_file`).
- `promotions`: one row per canary promotion of a registered model: its versions, steps, gate and state; at most one
  running per model (adgenesis/store/promotions.py).
- `promotion_decisions`: every decision of the gate with its numbers, never changed once written.
- `promotion_outcomes`: what each request a canary judged did, on which version, at which step (the design replicas
  write them; the gate reads a step's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, MetaData, String, event, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from adgenesis.brand import MAX_DISCLAIMER_CHARS, MAX_NAME_CHARS
from adgenesis.paths import SAFE_NAME_MAX

ID_CHARS = 32  # "kit_" + 24 hex, "key_" + 24 hex, "ws_" + 24 hex, "prm_" + 24 hex
HASH_CHARS = 64  # a sha256 in hex
FILE_NAME_CHARS = 80  # <sha256>.<ext>
STATE_CHARS = 16  # a promotion's state ("rolled_back") or a decision ("rollback")

# Constraint and index names fixed here, so that every database gets the same ones and a later migration can name
# them (SQLite and PostgreSQL would otherwise each make up their own).
NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


class UtcDateTime(TypeDecorator):
    """A point in time, always answered in UTC: SQLite keeps no time zone, so what it gives back is made UTC again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    name: Mapped[str] = mapped_column(String(SAFE_NAME_MAX), unique=True)
    created_at: Mapped[dt.datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    shown: Mapped[str] = mapped_column(String(ID_CHARS), index=True)  # the token's first characters
    sha256: Mapped[str] = mapped_column(String(HASH_CHARS), unique=True)
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class KitRow(Base):
    __tablename__ = "brand_kits"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    latest_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]

    # A name is one kit's among the workspace's kits that are not deleted: a deleted kit's name can be taken again.
    __table_args__ = (Index("uq_brand_kits_live_name", "workspace_id", "name", unique=True,
                            sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),)


class KitVersionRow(Base):
    __tablename__ = "brand_kit_versions"

    kit_id: Mapped[str] = mapped_column(ForeignKey("brand_kits.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    palette: Mapped[list[Any]]  # [{"hex", "role"}, ...]
    headline_font: Mapped[dict[str, Any]]  # {"family", "file"}
    body_font: Mapped[dict[str, Any]]
    logo: Mapped[str | None] = mapped_column(String(FILE_NAME_CHARS))
    voice_words: Mapped[list[Any]]
    banned_words: Mapped[list[Any]]
    disclaimer: Mapped[str | None] = mapped_column(String(MAX_DISCLAIMER_CHARS))
    created_at: Mapped[dt.datetime]


class UploadedFile(Base):
    __tablename__ = "uploaded_files"

    # Per workspace: the same bytes uploaded by two workspaces are one file on disk and a row for each, so a kit
    # can only name a file its own workspace uploaded.
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(FILE_NAME_CHARS), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "logo" or "font"
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    family: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))  # a font's family name, from its name table
    created_at: Mapped[dt.datetime]


class PromotionRow(Base):
    __tablename__ = "promotions"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)  # "prm_" + 24 hex
    model_name: Mapped[str] = mapped_column(String(SAFE_NAME_MAX), index=True)
    candidate_version: Mapped[int] = mapped_column(Integer)
    incumbent_version: Mapped[int | None] = mapped_column(Integer)  # None: the profile's default model
    steps: Mapped[list[Any]]  # the candidate's share at each step, in percent
    current_step: Mapped[int] = mapped_column(Integer)  # an index in `steps`
    state: Mapped[str] = mapped_column(String(STATE_CHARS))  # protocol.PromotionState
    gate: Mapped[dict[str, Any]]  # settings.CanaryGate, as the promotion runs with it
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    # The one writer of a model's promotions, kept by the database too: a second running promotion of the same model
    # cannot be inserted, whichever replica tries.
    __table_args__ = (Index("uq_promotions_running_model", "model_name", unique=True,
                            sqlite_where=text("state = 'running'"), postgresql_where=text("state = 'running'")),)


class PromotionDecisionRow(Base):
    __tablename__ = "promotion_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # the order they were decided in
    promotion_id: Mapped[str] = mapped_column(ForeignKey("promotions.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # the index in the promotion's steps of the step judged
    decision: Mapped[str] = mapped_column(String(STATE_CHARS))  # protocol.DecisionAction
    numbers: Mapped[dict[str, Any]]  # canary.Decision as decided: both versions' numbers, every margin
    created_at: Mapped[dt.datetime]


class PromotionOutcomeRow(Base):
    __tablename__ = "promotion_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    promotion_id: Mapped[str] = mapped_column(ForeignKey("promotions.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # the index in the promotion's steps the request was served at
    candidate: Mapped[bool]  # served by the candidate (else the incumbent)
    outcome: Mapped[dict[str, Any]]  # protocol.CanaryOutcome
    created_at: Mapped[dt.datetime]


@event.listens_for(KitVersionRow, "before_update")
def _versions_are_immutable(mapper, connection, target: KitVersionRow) -> None:
    raise TypeError(f"brand kit {target.kit_id} version {target.version} was changed: versions are immutable")


@event.listens_for(PromotionDecisionRow, "before_update")
def _decisions_are_immutable(mapper, connection, target: PromotionDecisionRow) -> None:
    raise TypeError(f"decision {target.id} of promotion {target.promotion_id} was changed: decisions are a record")
