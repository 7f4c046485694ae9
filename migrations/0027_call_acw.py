"""Figures: each call's after-call work (its first message's ``after_call_seconds``) kept on the call
by triggers on ``message``, so that the figures read calls without looking each one's message up;
the indexes of calls by firm and arrival, and of messages by firm and time taken, widened with what
the figures sum (a month is read from the index alone); and an index of the (few) test calls, whose
messages the figures leave out."""
from peewee import *

# The first message of a call, by id, gives the call's after-call work (as the call's JSON says).
FIRST = '(SELECT m.after_call_seconds FROM message m WHERE m.call_id = {call} ORDER BY m.id LIMIT 1)'
OF_EACH = FIRST.format(call='"call".id')
SQLITE = [
    'CREATE TRIGGER call_acw_insert AFTER INSERT ON message WHEN NEW.call_id IS NOT NULL BEGIN '
    f'UPDATE "call" SET acw_seconds = {FIRST.format(call="NEW.call_id")} WHERE id = NEW.call_id; END',
    'CREATE TRIGGER call_acw_update AFTER UPDATE OF call_id, after_call_seconds ON message BEGIN '
    f'UPDATE "call" SET acw_seconds = {OF_EACH} WHERE id IN (OLD.call_id, NEW.call_id); END',
    'CREATE TRIGGER call_acw_delete AFTER DELETE ON message WHEN OLD.call_id IS NOT NULL BEGIN '
    f'UPDATE "call" SET acw_seconds = {FIRST.format(call="OLD.call_id")} WHERE id = OLD.call_id; END',
]
POSTGRES = [
    f"""CREATE FUNCTION call_acw() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' AND OLD.call_id IS NOT NULL THEN
        UPDATE "call" SET acw_seconds = {FIRST.format(call="OLD.call_id")} WHERE id = OLD.call_id;
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.call_id IS NOT NULL THEN
        UPDATE "call" SET acw_seconds = {FIRST.format(call="NEW.call_id")} WHERE id = NEW.call_id;
      END IF;
      RETURN NULL;
    END $$""",
    'CREATE TRIGGER call_acw AFTER INSERT OR UPDATE OF call_id, after_call_seconds OR DELETE ON message '
    'FOR EACH ROW EXECUTE FUNCTION call_acw()',
]
CALL_FIGURES = "status, test, claimed_by_id, after_hours, wait_seconds, talk_seconds, acw_seconds"
MESSAGE_FIGURES = "category, call_id, taken_by_id"
INDEXES = [  # (the index it replaces, the new one)
    ("call_tenant_id_arrived_at_id",
     f'CREATE INDEX call_firm_arrived ON "call" (tenant_id, arrived_at, id, {CALL_FIGURES})'),
    ("call_arrived_at", f'CREATE INDEX call_arrived ON "call" (arrived_at, tenant_id, {CALL_FIGURES})'),
    ("message_tenant_id_taken_at_id",
     f'CREATE INDEX message_firm_taken ON message (tenant_id, taken_at, id, {MESSAGE_FIGURES})'),
    ("message_taken_at_id", f'CREATE INDEX message_taken ON message (taken_at, id, tenant_id, {MESSAGE_FIGURES})'),
]


def up(migrator, db):
    migrator.migrate(migrator.add_column('call', 'acw_seconds', IntegerField(null=True)))
    db.execute_sql(f'UPDATE "call" SET acw_seconds = {OF_EACH} '
                   'WHERE EXISTS (SELECT 1 FROM message m WHERE m.call_id = "call".id)')
    db.execute_sql('CREATE INDEX call_test ON "call" (id) WHERE test')
    for old, new in INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{old}"')
        db.execute_sql(new)
    for sql in (POSTGRES if isinstance(db, PostgresqlDatabase) else SQLITE):
        db.execute_sql(sql)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('DROP TRIGGER IF EXISTS call_acw ON message')
        db.execute_sql('DROP FUNCTION IF EXISTS call_acw()')
    else:
        for name in ("insert", "update", "delete"):
            db.execute_sql(f'DROP TRIGGER IF EXISTS call_acw_{name}')
    db.execute_sql('DROP INDEX IF EXISTS call_test')
    for name in ("call_firm_arrived", "call_arrived", "message_firm_taken", "message_taken"):
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
    db.execute_sql('CREATE INDEX call_tenant_id_arrived_at_id ON "call" (tenant_id, arrived_at, id)')
    db.execute_sql('CREATE INDEX call_arrived_at ON "call" (arrived_at)')
    db.execute_sql('CREATE INDEX message_tenant_id_taken_at_id ON message (tenant_id, taken_at, id)')
    db.execute_sql('CREATE INDEX message_taken_at_id ON message (taken_at, id)')
    migrator.migrate(migrator.drop_column('call', 'acw_seconds'))
