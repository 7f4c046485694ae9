"""The schema comes from versioned migrations, and they describe exactly the models."""

import datetime as dt

from playhouse.schema_diff import diff_models

from app import db
from app.models import MODELS

from .conftest import old_firm


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


def test_voicemails_recorded_before_messages_existed_become_messages_of_their_firm(tmp_path):
    import peewee as pw
    from playhouse.migrations import Runner

    from app.calls.models import VOICEMAIL
    from app.messages.models import Message
    db.bind(f"sqlite:///{tmp_path / 'old.db'}")
    with db.db.connection_context():
        Runner(db.db.obj, directory=str(db.MIGRATIONS_DIR)).up(target="0003_provider_key")
        # Only the columns there were at 0003: the model of today has newer ones (test, 0017).
        firm = old_firm()
        calls = pw.Table("call").bind(db.db.obj)
        old = dict(tenant_id=firm, status=VOICEMAIL, after_hours=True, to_number="", forwarded_from="",
                   arrived_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), provider_status="")
        calls.insert(sid="CA-old", from_number="+819012345678", recording_url="https://api.twilio.com/rec/RE1",
                     recording_seconds=42, **old).execute()
        calls.insert(sid="CA-hung-up", from_number="", recording_url="", **old).execute()  # nothing recorded
    db.migrate()
    with db.db.connection_context():
        (message,) = Message.select()
        assert (message.tenant_id, message.source, message.category) == (firm, "voicemail", "message")
        assert message.fields == {"callback_number": "+819012345678"}
        assert (message.recording_url, message.recording_seconds) == ("https://api.twilio.com/rec/RE1", 42)
        assert message.call.sid == "CA-old" and message.versions.count() == 1
    db.db.close_all()


def test_messages_handled_before_acknowledgements_existed_count_as_acknowledged_by_who_handled_them(tmp_path):
    from playhouse.migrations import Runner

    from app.accounts.models import User
    from app.messages.models import Message
    db.bind(f"sqlite:///{tmp_path / 'old.db'}")
    with db.db.connection_context():
        Runner(db.db.obj, directory=str(db.MIGRATIONS_DIR)).up(target="0012_call_log_index")
        firm = old_firm()
        alice = User.insert(email="alice@law.example.jp", role="client", tenant=firm, password_hash="x").execute()
        at = dt.datetime(2026, 11, 20, 1, 2, 3, tzinfo=dt.timezone.utc)
        # Only the columns there were before: the models of today have the new ones.
        columns = dict(tenant=firm, call_type="message", category="message", taken_at=at)
        handled = Message.insert(**columns, handled=True, handled_at=at, handled_by=alice).execute()
        open_one = Message.insert(**columns).execute()
    db.migrate()
    with db.db.connection_context():
        assert Message.get_by_id(handled).acknowledged_at == at
        assert Message.get_by_id(handled).acknowledged_by_id == alice
        assert not Message.get_by_id(open_one).acknowledged
    db.db.close_all()

