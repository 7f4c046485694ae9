"""The API key that signs operators' Voice SDK tokens."""
from peewee import *
from app.db import UTCDateTimeField


def up(migrator, db):
    class ProviderKey(Model):
        account_sid = CharField(unique=True, max_length=64)
        sid = CharField(max_length=64)
        secret = CharField(max_length=128)
        created_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'provider_key'
    db.create_tables([ProviderKey])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('provider_key'))
