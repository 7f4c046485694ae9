"""Handover notes (引き継ぎ) for the next shifts or about one firm, with an expiry, and who read each."""
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

    class HandoverNote(Model):
        text = TextField()
        author = ForeignKeyField(User, null=True, on_delete='SET NULL')
        tenant = ForeignKeyField(Tenant, null=True, on_delete='CASCADE')
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        withdrawn_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'handover_note'
            indexes = ((('expires_at',), False),)

    class HandoverRead(Model):
        note = ForeignKeyField(HandoverNote, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        read_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'handover_read'
            indexes = ((('note', 'user'), True),)
    db.create_tables([HandoverNote, HandoverRead])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('handover_read'), migrator.drop_table('handover_note'))
