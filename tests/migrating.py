"""Taking the test database to a past migration state and back (the migration tests)."""

from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """The database migrated to `targets` ([(app, migration), ...]); the apps as of those migrations."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@contextmanager
def state_at(targets):
    """The apps as of `targets` (the database migrated there); every app migrated to its latest after."""
    try:
        yield migrate(targets)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
