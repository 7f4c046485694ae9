"""Scheduled report runs (kept as rendered) and deliveries; report rules know when they were created."""
from peewee import *
from app.db import UTCDateTimeField, utcnow


def up(migrator, db):
    class Message(Model):
        class Meta:
            database = db
            table_name = 'message'

    class ReportRule(Model):
        class Meta:
            database = db
            table_name = 'report_rule'

    class Tenant(Model):
        class Meta:
            database = db
            table_name = 'tenant'

    class ReportRun(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        rule = ForeignKeyField(ReportRule, null=True, on_delete='SET NULL')
        rule_key = CharField(max_length=40)
        scheduled_at = UTCDateTimeField()
        period_start = UTCDateTimeField()
        created_at = UTCDateTimeField()
        message_count = IntegerField(default=0)
        skipped = BooleanField(default=False)
        subject = CharField(max_length=300, default='')
        text = TextField(default='')
        html = TextField(default='')
        sms = TextField(default='')
        pdf = BlobField(null=True)
        class Meta:
            database = db
            table_name = 'report_run'
            indexes = ((('tenant', 'rule_key', 'scheduled_at'), True),)
    db.create_tables([ReportRun])

    class Delivery(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        run = ForeignKeyField(ReportRun, null=True, on_delete='CASCADE')
        message = ForeignKeyField(Message, null=True, on_delete='CASCADE')
        channel = CharField(max_length=8)
        recipient = CharField(max_length=254)
        status = CharField(index=True, max_length=12, default='pending')
        attempts = IntegerField(default=0)
        next_attempt_at = UTCDateTimeField(index=True)
        claimed_at = UTCDateTimeField(null=True)
        last_error = TextField(default='')
        provider_ref = CharField(max_length=300, default='')
        segments = IntegerField(null=True)
        created_at = UTCDateTimeField()
        sent_at = UTCDateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'delivery'
            indexes = ((('run', 'channel', 'recipient'), True), (('message', 'channel', 'recipient'), True))
    db.create_tables([Delivery])

    migrator.migrate(migrator.add_column('report_rule', 'created_at', UTCDateTimeField(default=utcnow)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('report_rule', 'created_at'))
    migrator.migrate(migrator.drop_table('delivery'))
    migrator.migrate(migrator.drop_table('report_run'))
