"""The firm's own users: an owner among its client users (the first one of each firm), and the
invitations an owner sends."""
from peewee import *
from app.db import UTCDateTimeField

def up(migrator, db):
    class Tenant(Model):
        class Meta:
            database = db
            table_name = 'tenant'

    class User(Model):
        role = CharField(max_length=16)
        tenant = ForeignKeyField(Tenant, null=True)
        is_owner = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'user'

    class Invitation(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        email = CharField(max_length=254)
        name = CharField(max_length=200, default='')
        token_hash = CharField(unique=True, max_length=64)
        invited_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        used_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'invitation'
    db.create_tables([Invitation])

    migrator.migrate(migrator.add_column('user', 'is_owner', BooleanField(default=False)))
    # Every firm that has client users already: its first one owns it, as a new firm's first will.
    first = (User.select(fn.MIN(User.id)).where((User.role == 'client') & User.tenant.is_null(False))
             .group_by(User.tenant))
    User.update(is_owner=True).where(User.id.in_(first)).execute()


def down(migrator, db):
    migrator.migrate(migrator.drop_column('user', 'is_owner'))
    migrator.migrate(migrator.drop_table('invitation'))
