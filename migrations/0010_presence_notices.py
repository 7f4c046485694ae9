"""The in/out board's four states with an "until" (replacing in_office), and the notices firms post."""
from peewee import *
from app.db import UTCDateTimeField


def up(migrator, db):
    class Staff(Model):
        class Meta:
            database = db
            table_name = 'staff'

    class Tenant(Model):
        class Meta:
            database = db
            table_name = 'tenant'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Notice(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        text = TextField()
        staff = ForeignKeyField(Staff, null=True, on_delete='SET NULL')
        starts_at = UTCDateTimeField()
        ends_at = UTCDateTimeField(null=True)
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = UTCDateTimeField()
        withdrawn_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'notice'
            indexes = ((('tenant', 'withdrawn_at', 'starts_at'), False),)
    db.create_tables([Notice])

    migrator.migrate(migrator.add_column('staff', 'presence', CharField(max_length=8, default='in')))
    migrator.migrate(migrator.add_column('staff', 'presence_until', UTCDateTimeField(null=True)))
    # in_office false → out; true and NULL ("nobody has said") → in, what an operator assumes anyway.
    db.execute_sql("UPDATE staff SET presence = 'out' WHERE NOT in_office")
    migrator.migrate(migrator.drop_column('staff', 'in_office'))


def down(migrator, db):
    migrator.migrate(migrator.add_column('staff', 'in_office', BooleanField(null=True)))
    db.execute_sql("UPDATE staff SET in_office = (presence = 'in')")
    migrator.migrate(migrator.drop_column('staff', 'presence_until'))
    migrator.migrate(migrator.drop_column('staff', 'presence'))
    migrator.migrate(migrator.drop_table('notice'))

