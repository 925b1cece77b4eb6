"""The store: SQLAlchemy models, Alembic migrations, and the services over them: `Store`, the brand kits the routes
call (adgenesis/store/store.py; docs/brand-kits.md), and `Promotions`, the record of canary promotions
(adgenesis/store/promotions.py; docs/lifecycle.md)."""
