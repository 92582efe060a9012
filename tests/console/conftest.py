"""Console API tests run on SQLite and PostgreSQL, like the money tests."""

from tests.money.conftest import backend, fresh_databases, start

__all__ = ["backend", "fresh_databases", "start"]
