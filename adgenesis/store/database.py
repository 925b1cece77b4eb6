"""The store's database: which one (the profile's `store` section), its engine, and its schema brought to the
migrations' head when a replica opens it.

Several replicas (the ingress runs 2-8) may open the store at the same moment, on a database no one has migrated
yet. Each migrates under a lock that only one holds at a time, so the first makes the schema and the others then
find it at head and do nothing:
- PostgreSQL: a transaction-scoped advisory lock, taken in the transaction the migrations run in (PostgreSQL's DDL
  is transactional: a replica killed half-way leaves nothing behind);
- SQLite: an exclusive lock on a file beside the database (replicas on one machine: the only place SQLite serves).
Other SQLAlchemy databases migrate unlocked: start one replica first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from adgenesis.errors import TimedOut, Unavailable
from adgenesis.paths import RUNS_DIR
from adgenesis.settings import StoreSettings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = RUNS_DIR / "store" / "adgenesis.sqlite3"
# pg_advisory_xact_lock's key for "migrating the AdGenesis store": any number no other code of the database takes.
MIGRATION_LOCK_KEY = 0x41444753  # "ADGS"


def database_url(settings: StoreSettings, environ: Mapping[str, str] | None = None) -> str:
    """The environment variable's URL, else the profile's, else (where allowed) the embedded SQLite file."""
    url = (environ if environ is not None else os.environ).get(settings.database_url_env) or settings.database_url
    if url:
        return url
    if not settings.sqlite_fallback:
        raise Unavailable(f"brand kits are not configured: no database URL (set {settings.database_url_env})")
    return f"sqlite:///{SQLITE_FILE}"


def make_engine(url: str, settings: StoreSettings) -> Engine:
    """An engine for `url`; an SQLite file (and its folder) is created on first use, with nothing to install."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a connection the server closed meanwhile (a restart, an idle timeout) is replaced, not failed.
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # SQLite ignores foreign keys unless asked, per connection
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for a writer
        cursor.close()

    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in the package (no alembic.ini): env.py takes the
    connection from `attributes`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_migrated(settings: StoreSettings, environ: Mapping[str, str] | None = None) -> Engine:
    """The profile's store database (made, on SQLite, if it is not there), migrated to head: what every user of it
    opens (the brand kits' Store, the canaries' Promotions)."""
    engine = make_engine(database_url(settings, environ), settings)
    migrate(engine, settings)
    return engine


def migrate(engine: Engine, settings: StoreSettings) -> None:
    """`alembic upgrade head` on `engine`, one replica at a time (the module's docstring)."""
    with _migration_lock(engine, settings) as connection:
        command.upgrade(alembic_config(connection), "head")


@contextmanager
def _migration_lock(engine: Engine, settings: StoreSettings) -> Iterator[Connection]:
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with engine.begin() as connection:  # the migrations run in this transaction; the lock ends with it
            connection.execute(text(f"SET LOCAL lock_timeout = '{int(settings.migrate_timeout_s * 1000)}ms'"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            yield connection
        return
    if backend == "sqlite" and engine.url.database and engine.url.database != ":memory:":
        lock = FileLock(f"{engine.url.database}.migrate.lock")
        try:
            lock.acquire(timeout=settings.migrate_timeout_s)
        except Timeout:
            raise TimedOut(f"another replica held the store's migration lock for {settings.migrate_timeout_s:g} s "
                           f"({lock.lock_file})") from None
        try:
            with engine.begin() as connection:
                yield connection
        finally:
            lock.release()
        return
    logger.warning("migrating the %s store without a lock: start one replica first", backend)
    with engine.begin() as connection:
        yield connection
