"""Test calls: an account manager's simulated call to a new firm's number, so they are never offered
to operators and are left out where calls are counted."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('call', 'test', BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('call', 'test'))
