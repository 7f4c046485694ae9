"""Who of the firm acknowledged a message, and when (an urgent message's escalation stops there).
Marking a message handled acknowledges it, so the messages handled already count as acknowledged."""
from peewee import *
from app.db import UTCDateTimeField

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    migrator.migrate(migrator.add_column('message', 'acknowledged_at', UTCDateTimeField(null=True)))
    migrator.migrate(migrator.add_column('message', 'acknowledged_by_id', ForeignKeyField(User, field=User.id, null=True, on_delete='SET NULL')))

    class Message(Model):
        handled = BooleanField()
        handled_at = UTCDateTimeField(null=True)
        handled_by = ForeignKeyField(User, null=True)
        acknowledged_at = UTCDateTimeField(null=True)
        acknowledged_by = ForeignKeyField(User, null=True)
        class Meta:
            database = db
            table_name = 'message'
    Message.update(acknowledged_at=Message.handled_at, acknowledged_by=Message.handled_by).where(
        Message.handled & Message.handled_at.is_null(False)).execute()


def down(migrator, db):
    migrator.migrate(migrator.drop_index('message', 'message_acknowledged_by_id'))
    migrator.migrate(migrator.drop_column('message', 'acknowledged_by_id'))
    migrator.migrate(migrator.drop_column('message', 'acknowledged_at'))
