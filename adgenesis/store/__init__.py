"""The brand-kit store: SQLAlchemy models, Alembic migrations, and `Store`, the service the routes call
(adgenesis/store/store.py; docs/brand-kits.md)."""
