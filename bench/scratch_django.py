"""Django on a fresh scratch data folder, for the benchmarks that write (imports, the write lock)."""

from __future__ import annotations

import os
import tempfile


def scratch_django(database_url: str | None = None, scratch: str | None = None) -> str:
    """Point FOREXGPT_DATA_DIR at `scratch` (a new temporary folder when None) and, when given, the
    database at `database_url` (otherwise a SQLite file in that folder); set Django up and migrate.
    Returns the folder."""
    scratch = scratch or tempfile.mkdtemp(prefix="forexgpt-bench-")
    os.environ["FOREXGPT_DATA_DIR"] = scratch
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forexgpt_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return scratch
