"""Change requests from a firm: what its owner proposes (only the sections changed, and the diff
against the version it was made on), and the account manager's decision."""
from peewee import *
from app.db import JSONField, UTCDateTimeField

def up(migrator, db):
    class Tenant(Model):
        class Meta:
            database = db
            table_name = 'tenant'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class ChangeRequest(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        proposed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        proposed_by_label = CharField(max_length=254, default='')
        created_at = UTCDateTimeField()
        base_version = IntegerField()
        proposed = JSONField()
        changes = JSONField()
        note = TextField(default='')
        status = CharField(max_length=16, default='open', index=True)
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = UTCDateTimeField(null=True)
        decision_note = TextField(default='')
        version = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'change_request'
    db.create_tables([ChangeRequest])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('change_request'))
