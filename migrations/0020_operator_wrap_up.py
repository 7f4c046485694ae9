"""Wrap-up: a break an operator asks for during a call or its after-call work, applied when that work
ends (the message saved)."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('operator_presence', 'pending_reason', CharField(max_length=100, default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('operator_presence', 'pending_reason'))
