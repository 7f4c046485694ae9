"""A firm's call log, newest first, page by page: keyset on (arrived_at, id) within the firm."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_index('call', ('tenant_id', 'arrived_at', 'id')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('call', 'call_tenant_id_arrived_at_id'))
