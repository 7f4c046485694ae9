"""One-time links where a user sets a new password, sent by an account manager: to a new user, or to
one who forgot theirs. Only a digest of each link is kept."""
from peewee import *
from app.db import UTCDateTimeField

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class PasswordReset(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        kind = CharField(max_length=8, default='reset')
        token_hash = CharField(unique=True, max_length=64)
        requested_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        used_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'password_reset'
    db.create_tables([PasswordReset])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('password_reset'))
