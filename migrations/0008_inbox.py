"""The portal's inbox: who of the firm read each message when, and which messages each report carried."""
from peewee import *
from app.db import UTCDateTimeField

def up(migrator, db):
    class Message(Model):
        class Meta:
            database = db
            table_name = 'message'

    class ReportRun(Model):
        class Meta:
            database = db
            table_name = 'report_run'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class MessageRead(Model):
        message = ForeignKeyField(Message, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        read_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'message_read'
            indexes = ((('message', 'user'), True),)
    db.create_tables([MessageRead])

    class ReportRunMessage(Model):
        run = ForeignKeyField(ReportRun, on_delete='CASCADE')
        message = ForeignKeyField(Message, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'report_run_message'
            indexes = ((('run', 'message'), True),)
    db.create_tables([ReportRunMessage])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('report_run_message'))
    migrator.migrate(migrator.drop_table('message_read'))
