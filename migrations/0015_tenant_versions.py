"""Every saved configuration of a firm, kept whole (history, diff, restore), and the number of the
latest one on the firm (optimistic locking). Firms saved before this start at version 0: their first
save, or the first look at their history, records what they are as version 1."""
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

    class TenantVersion(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        number = IntegerField()
        config = JSONField()
        changes = JSONField(default=dict)
        saved_at = UTCDateTimeField()
        saved_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        saved_by_label = CharField(max_length=254, default='')
        via = CharField(max_length=16)
        note = TextField(default='')
        class Meta:
            database = db
            table_name = 'tenant_version'
            indexes = ((('tenant', 'number'), True),)
    db.create_tables([TenantVersion])
    migrator.migrate(migrator.add_column('tenant', 'version', IntegerField(default=0)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('tenant', 'version'))
    migrator.migrate(migrator.drop_table('tenant_version'))
