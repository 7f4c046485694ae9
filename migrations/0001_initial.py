"""Firms and their configuration, users and their sessions and tokens, the audit log.

Timestamps default in Python (app.db.utcnow), so no column default is needed here.
"""
from peewee import *
from app.db import JSONField
from app.db import UTCDateTimeField

def up(migrator, db):
    class Tenant(Model):
        slug = CharField(unique=True, max_length=40)
        name = CharField(max_length=200)
        name_kana = CharField(max_length=200, default='')
        language = CharField(max_length=2, default='ja')
        timezone = CharField(max_length=64, default='Asia/Tokyo')
        region = CharField(max_length=2, default='JP')
        answer_phrase = TextField()
        instructions = TextField(default='')
        hours = JSONField(null=True)
        holiday_calendar = CharField(null=True, max_length=2)
        after_hours = CharField(max_length=16, default='answer')
        after_hours_message = TextField(default='')
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'tenant'
    db.create_tables([Tenant])

    class User(Model):
        email = CharField(unique=True, max_length=254)
        name = CharField(max_length=200, default='')
        password_hash = CharField(max_length=200)
        role = CharField(max_length=16)
        tenant = ForeignKeyField(Tenant, null=True, on_delete='CASCADE')
        language = CharField(max_length=2, default='ja')
        is_active = BooleanField(default=True)
        created_at = UTCDateTimeField()
        last_login_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class ApiToken(Model):
        token_hash = CharField(unique=True, max_length=64)
        prefix = CharField(max_length=12)
        user = ForeignKeyField(User, on_delete='CASCADE')
        created_at = UTCDateTimeField()
        last_used_at = UTCDateTimeField(null=True)
        revoked_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class AuditEntry(Model):
        at = UTCDateTimeField(index=True)
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        actor_label = CharField(max_length=254)
        tenant = ForeignKeyField(Tenant, null=True, on_delete='SET NULL')
        action = CharField(max_length=64)
        target = CharField(max_length=200, default='')
        changes = JSONField(null=True)
        class Meta:
            database = db
            table_name = 'audit_entry'
    db.create_tables([AuditEntry])

    class CallType(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        key = CharField(max_length=40)
        label = CharField(max_length=200)
        category = CharField(max_length=20, default='message')
        script = TextField(default='')
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'call_type'
            indexes = ((('tenant', 'key'), True),)
    db.create_tables([CallType])

    class CallTypeField(Model):
        call_type = ForeignKeyField(CallType, on_delete='CASCADE')
        key = CharField(max_length=40)
        standard = BooleanField(default=True)
        label = CharField(max_length=200, default='')
        type = CharField(max_length=16, default='text')
        options = JSONField(null=True)
        required = BooleanField(default=False)
        readback = BooleanField(default=False)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'call_type_field'
            indexes = ((('call_type', 'key'), True),)
    db.create_tables([CallTypeField])

    class LoginAttempt(Model):
        email = CharField(index=True, max_length=254)
        ip = CharField(index=True, max_length=64)
        succeeded = BooleanField()
        at = UTCDateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'login_attempt'
    db.create_tables([LoginAttempt])

    class NotifyRule(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        urgent = BooleanField(default=False)
        categories = JSONField(null=True)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'notify_rule'
    db.create_tables([NotifyRule])

    class ReportRule(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        key = CharField(max_length=40)
        at = JSONField()
        days = JSONField()
        skip_holidays = BooleanField(default=False)
        include_categories = JSONField(null=True)
        exclude_categories = JSONField(null=True)
        only_for_staff = JSONField(null=True)
        urgent_only = BooleanField(default=False)
        when_empty = CharField(max_length=8, default='notice')
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'report_rule'
            indexes = ((('tenant', 'key'), True),)
    db.create_tables([ReportRule])

    class Recipient(Model):
        report = ForeignKeyField(ReportRule, null=True, on_delete='CASCADE')
        notify = ForeignKeyField(NotifyRule, null=True, on_delete='CASCADE')
        channel = CharField(max_length=8)
        to = JSONField(default=list)
        to_staff = JSONField(default=list)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'recipient'
    db.create_tables([Recipient])

    class Session(Model):
        token_hash = CharField(unique=True, max_length=64)
        user = ForeignKeyField(User, on_delete='CASCADE')
        created_at = UTCDateTimeField()
        last_seen_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'session'
    db.create_tables([Session])

    class Staff(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        key = CharField(max_length=40)
        name = CharField(max_length=200)
        name_kana = CharField(max_length=200, default='')
        title = CharField(max_length=200, default='')
        email = CharField(max_length=254, default='')
        mobile = CharField(max_length=20, default='')
        fax = CharField(max_length=20, default='')
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'staff'
            indexes = ((('tenant', 'key'), True),)
    db.create_tables([Staff])

    class TenantNumber(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        number = CharField(unique=True, max_length=20)
        kind = CharField(max_length=16)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'tenant_number'
    db.create_tables([TenantNumber])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('tenant_number'))
    migrator.migrate(migrator.drop_table('staff'))
    migrator.migrate(migrator.drop_table('session'))
    migrator.migrate(migrator.drop_table('recipient'))
    migrator.migrate(migrator.drop_table('report_rule'))
    migrator.migrate(migrator.drop_table('notify_rule'))
    migrator.migrate(migrator.drop_table('login_attempt'))
    migrator.migrate(migrator.drop_table('call_type_field'))
    migrator.migrate(migrator.drop_table('call_type'))
    migrator.migrate(migrator.drop_table('audit_entry'))
    migrator.migrate(migrator.drop_table('api_token'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('tenant'))
