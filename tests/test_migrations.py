"""The schema comes from versioned migrations, and they describe exactly the models."""

from playhouse.schema_diff import diff_models

from app import db
from app.models import MODELS


def test_the_migrated_schema_matches_the_models(database):
    assert not diff_models(database, MODELS)


def test_migrating_an_up_to_date_database_does_nothing(database):
    assert db.migrate() == []
    assert db.pending_migrations() == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_enforced(database):
    if db.is_postgres():
        assert database.execute_sql("SHOW server_version").fetchone()
        return
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
