"""Alembic's environment for the store's migrations: run on the connection adgenesis/store/database.py opened (and,
on PostgreSQL, locked), never from an alembic.ini.

A new migration: a file in versions/ after the newest, its `down_revision` the old head. Alembic drafts one from
what the models add: `command.revision(alembic_config(connection), "what", autogenerate=True, rev_id="0002")` on a
database at head (adgenesis/store/database.py); write its types out as 0001 does, and tests/test_store.py checks
that the migrated schema and the models agree on SQLite and PostgreSQL."""

from alembic import context

from adgenesis.store.models import Base

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it; alembic does that when a migration asks for an ALTER.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
