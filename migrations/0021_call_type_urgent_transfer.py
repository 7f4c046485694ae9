"""Call types' `urgent` and `transfer_to_staff` keys, and each 取次 (a call put through to a staff
member's mobile) with how it ended."""
from peewee import *
from app.db import JSONField, UTCDateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('call_type', 'urgent', BooleanField(default=False)),
        migrator.add_column('call_type', 'transfer_to_staff', JSONField(default=list)),
    )

    class Call(Model):
        class Meta:
            database = db
            table_name = 'call'

    class Staff(Model):
        class Meta:
            database = db
            table_name = 'staff'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Transfer(Model):
        call = ForeignKeyField(Call, on_delete='CASCADE')
        staff = ForeignKeyField(Staff, null=True, on_delete='SET NULL')
        staff_name = CharField(max_length=200)
        number = CharField(max_length=32)
        operator = ForeignKeyField(User, null=True, on_delete='SET NULL')
        status = CharField(max_length=16, default='ringing')
        requested_at = UTCDateTimeField()
        ended_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'transfer'
    db.create_tables([Transfer])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('transfer'),
                     migrator.drop_column('call_type', 'transfer_to_staff'),
                     migrator.drop_column('call_type', 'urgent'))
