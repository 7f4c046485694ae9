"""Calls and their life from arrival to end; operators' availability; the staff in/out board."""
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

    class Call(Model):
        sid = CharField(unique=True, max_length=64)
        tenant = ForeignKeyField(Tenant, null=True, on_delete='SET NULL')
        to_number = CharField(max_length=32, default='')
        from_number = CharField(max_length=32, default='')
        forwarded_from = CharField(max_length=32, default='')
        status = CharField(index=True, max_length=16, default='queued')
        after_hours = BooleanField(default=False)
        arrived_at = UTCDateTimeField(index=True)
        claimed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        claimed_at = UTCDateTimeField(null=True)
        answered_at = UTCDateTimeField(null=True)
        ended_at = UTCDateTimeField(null=True)
        wait_seconds = IntegerField(null=True)
        talk_seconds = IntegerField(null=True)
        recording_url = CharField(max_length=500, default='')
        recording_seconds = IntegerField(null=True)
        provider_status = CharField(max_length=32, default='')
        class Meta:
            database = db
            table_name = 'call'
            indexes = ((('tenant', 'from_number', 'arrived_at'), False),)
    db.create_tables([Call])

    class OperatorPresence(Model):
        user = ForeignKeyField(User, unique=True, on_delete='CASCADE')
        available = BooleanField(default=False)
        reason = CharField(max_length=100, default='')
        since = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'operator_presence'
    db.create_tables([OperatorPresence])

    migrator.migrate(migrator.add_column('staff', 'in_office', BooleanField(null=True)))
    migrator.migrate(migrator.add_column('staff', 'presence_note', CharField(max_length=200, default='')))
    migrator.migrate(migrator.add_column('staff', 'presence_at', UTCDateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('staff', 'presence_at'))
    migrator.migrate(migrator.drop_column('staff', 'presence_note'))
    migrator.migrate(migrator.drop_column('staff', 'in_office'))
    migrator.migrate(migrator.drop_table('operator_presence'))
    migrator.migrate(migrator.drop_table('call'))
