"""The firm's [plan] (what it pays for), kept as the tenant file gives it; NULL for firms without one."""
from peewee import *
from app.db import JSONField


def up(migrator, db):
    migrator.migrate(migrator.add_column('tenant', 'plan', JSONField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('tenant', 'plan'))
