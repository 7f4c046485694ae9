"""The results of API writes sent with an Idempotency-Key, one per user and key."""
from peewee import *
from app.db import JSONField, UTCDateTimeField

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class IdempotencyKey(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        key = CharField(max_length=255)
        body_hash = CharField(max_length=64)
        status = SmallIntegerField()
        response = JSONField()
        created_at = UTCDateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'idempotency_key'
            indexes = ((('user', 'key'), True),)
    db.create_tables([IdempotencyKey])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('idempotency_key'))
