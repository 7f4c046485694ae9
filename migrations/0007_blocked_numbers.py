"""The numbers each firm blocks: their calls are rejected and recorded as blocked."""
from peewee import *
from app.db import UTCDateTimeField

def up(migrator, db):
    class Tenant(Model):
        class Meta:
            database = db
            table_name = 'tenant'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class BlockedNumber(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        number = CharField(max_length=32)
        note = CharField(max_length=200, default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'blocked_number'
            indexes = ((('tenant', 'number'), True),)
    db.create_tables([BlockedNumber])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('blocked_number'))
