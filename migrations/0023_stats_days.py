"""Figures: each firm's sums per local day, what they were made with, and the notes (written by
triggers on call and message) of what changed since (app/stats/rollup.py)."""
from peewee import *
from app.db import UTCDateTimeField

SUMS = ("offered", "answered", "abandoned", "within_sl", "wait_sum", "talk_n", "talk_sum", "acw_n", "acw_sum",
        "aht_n", "aht_sum", "after_hours", "voicemails", "blocked", "messages", "noise")
LONG = ("wait_sum", "talk_sum", "acw_sum", "aht_sum")
# The columns whose change can move a figure; any other update (a call's audio connected, a message
# handled) writes no note.
CALL_COLUMNS = "tenant_id, status, after_hours, arrived_at, claimed_by_id, wait_seconds, talk_seconds, test"
MESSAGE_COLUMNS = "tenant_id, call_id, category, taken_at, taken_by_id, after_call_seconds"

SQLITE = [
    'CREATE TRIGGER stats_call_insert AFTER INSERT ON "call" BEGIN '
    'INSERT INTO stats_dirty (tenant_id, "at") VALUES (NEW.tenant_id, NEW.arrived_at); END',
    f'CREATE TRIGGER stats_call_update AFTER UPDATE OF {CALL_COLUMNS} ON "call" BEGIN '
    'INSERT INTO stats_dirty (tenant_id, "at") VALUES (OLD.tenant_id, OLD.arrived_at); '
    'INSERT INTO stats_dirty (tenant_id, "at") SELECT NEW.tenant_id, NEW.arrived_at '
    'WHERE NEW.tenant_id IS NOT OLD.tenant_id OR NEW.arrived_at IS NOT OLD.arrived_at; END',
    'CREATE TRIGGER stats_call_delete AFTER DELETE ON "call" BEGIN '
    'INSERT INTO stats_dirty (tenant_id, "at") VALUES (OLD.tenant_id, OLD.arrived_at); END',
    # A message counts when taken, and its after-call work with its call.
    'CREATE TRIGGER stats_message_insert AFTER INSERT ON message BEGIN '
    'INSERT INTO stats_dirty (tenant_id, "at") VALUES (NEW.tenant_id, NEW.taken_at); '
    'INSERT INTO stats_dirty (tenant_id, "at") SELECT tenant_id, arrived_at FROM "call" WHERE id = NEW.call_id; END',
    f'CREATE TRIGGER stats_message_update AFTER UPDATE OF {MESSAGE_COLUMNS} ON message BEGIN '
    'INSERT INTO stats_dirty (tenant_id, "at") VALUES (OLD.tenant_id, OLD.taken_at), (NEW.tenant_id, NEW.taken_at); '
    'INSERT INTO stats_dirty (tenant_id, "at") SELECT tenant_id, arrived_at FROM "call" '
    'WHERE id IN (OLD.call_id, NEW.call_id); END',
    'CREATE TRIGGER stats_message_delete AFTER DELETE ON message BEGIN '
    'INSERT INTO stats_dirty (tenant_id, "at") VALUES (OLD.tenant_id, OLD.taken_at); '
    'INSERT INTO stats_dirty (tenant_id, "at") SELECT tenant_id, arrived_at FROM "call" WHERE id = OLD.call_id; END',
]
POSTGRES = [
    """CREATE FUNCTION stats_note_call() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        INSERT INTO stats_dirty (tenant_id, "at") VALUES (OLD.tenant_id, OLD.arrived_at);
      END IF;
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
                                                   OR NEW.arrived_at IS DISTINCT FROM OLD.arrived_at)) THEN
        INSERT INTO stats_dirty (tenant_id, "at") VALUES (NEW.tenant_id, NEW.arrived_at);
      END IF;
      RETURN NULL;
    END $$""",
    f'CREATE TRIGGER stats_call AFTER INSERT OR UPDATE OF {CALL_COLUMNS} OR DELETE ON "call" '
    'FOR EACH ROW EXECUTE FUNCTION stats_note_call()',
    """CREATE FUNCTION stats_note_message() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        INSERT INTO stats_dirty (tenant_id, "at") VALUES (OLD.tenant_id, OLD.taken_at);
        INSERT INTO stats_dirty (tenant_id, "at") SELECT tenant_id, arrived_at FROM "call" WHERE id = OLD.call_id;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO stats_dirty (tenant_id, "at") VALUES (NEW.tenant_id, NEW.taken_at);
        INSERT INTO stats_dirty (tenant_id, "at") SELECT tenant_id, arrived_at FROM "call" WHERE id = NEW.call_id;
      END IF;
      RETURN NULL;
    END $$""",
    f'CREATE TRIGGER stats_message AFTER INSERT OR UPDATE OF {MESSAGE_COLUMNS} OR DELETE ON message '
    'FOR EACH ROW EXECUTE FUNCTION stats_note_message()',
]


def up(migrator, db):
    class StatsDay(Model):
        tenant_id = IntegerField()
        day = DateField()

        class Meta:
            database = db
            table_name = 'stats_day'
            indexes = ((('tenant_id', 'day'), True), (('day', 'tenant_id'), False))

    for name in SUMS:
        StatsDay._meta.add_field(name, (BigIntegerField if name in LONG else IntegerField)(default=0))

    class StatsFirm(Model):
        tenant_id = IntegerField(primary_key=True)
        timezone = CharField(max_length=64)
        service_level = IntegerField()

        class Meta:
            database = db
            table_name = 'stats_firm'

    class StatsDirty(Model):
        tenant_id = IntegerField(null=True)
        at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = 'stats_dirty'

    db.create_tables([StatsDay, StatsFirm, StatsDirty])
    for sql in (POSTGRES if isinstance(db, PostgresqlDatabase) else SQLITE):
        db.execute_sql(sql)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('DROP TRIGGER IF EXISTS stats_call ON "call"')
        db.execute_sql('DROP TRIGGER IF EXISTS stats_message ON message')
        db.execute_sql('DROP FUNCTION IF EXISTS stats_note_call()')
        db.execute_sql('DROP FUNCTION IF EXISTS stats_note_message()')
    else:
        for name in ("call_insert", "call_update", "call_delete", "message_insert", "message_update", "message_delete"):
            db.execute_sql(f'DROP TRIGGER IF EXISTS stats_{name}')
    for table in ("stats_dirty", "stats_firm", "stats_day"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
