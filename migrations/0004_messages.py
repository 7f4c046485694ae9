"""Messages, their versions, operators' drafts and escalations; after-hours voicemails become messages."""
from peewee import *
from app.db import JSONField
from app.db import UTCDateTimeField


def up(migrator, db):
    class Call(Model):
        class Meta:
            database = db
            table_name = 'call'

    class Tenant(Model):
        class Meta:
            database = db
            table_name = 'tenant'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Draft(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        call = ForeignKeyField(Call, on_delete='CASCADE')
        data = JSONField(default=dict)
        updated_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'draft'
            indexes = ((('user', 'call'), True),)
    db.create_tables([Draft])

    class Message(Model):
        tenant = ForeignKeyField(Tenant, on_delete='CASCADE')
        call = ForeignKeyField(Call, null=True, on_delete='SET NULL')
        call_type = CharField(max_length=40)
        call_type_label = CharField(max_length=200, default='')
        category = CharField(max_length=20)
        urgent = BooleanField(default=False)
        fields = JSONField(default=dict)
        labels = JSONField(default=dict)
        readback = JSONField(default=dict)
        taken_at = UTCDateTimeField()
        taken_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        source = CharField(max_length=16, default='operator')
        after_call_seconds = IntegerField(null=True)
        recording_url = CharField(max_length=500, default='')
        recording_seconds = IntegerField(null=True)
        handled = BooleanField(default=False)
        handled_at = UTCDateTimeField(null=True)
        handled_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        handled_note = TextField(default='')
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'message'
            indexes = ((('tenant', 'taken_at', 'id'), False), (('taken_at', 'id'), False))
    db.create_tables([Message])

    class Escalation(Model):
        tenant = ForeignKeyField(Tenant, null=True, on_delete='CASCADE')
        call = ForeignKeyField(Call, null=True, on_delete='SET NULL')
        message = ForeignKeyField(Message, null=True, on_delete='SET NULL')
        raised_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        raised_at = UTCDateTimeField()
        reason = TextField()
        resolved_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        resolved_at = UTCDateTimeField(index=True, null=True)
        resolution = TextField(default='')
        class Meta:
            database = db
            table_name = 'escalation'
    db.create_tables([Escalation])

    class MessageVersion(Model):
        message = ForeignKeyField(Message, on_delete='CASCADE')
        number = IntegerField()
        edited_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        edited_by_name = CharField(max_length=200, default='')
        edited_at = UTCDateTimeField()
        changes = JSONField(default=dict)
        state = JSONField()
        note = TextField(default='')
        class Meta:
            database = db
            table_name = 'message_version'
            indexes = ((('message', 'number'), True),)
    db.create_tables([MessageVersion])

    # Voicemails recorded before messages existed become messages of their firm, with the recording.
    cursor = db.execute_sql(
        "SELECT c.id, c.tenant_id, c.from_number, c.recording_url, c.recording_seconds, c.arrived_at, "
        "(SELECT ct.key FROM call_type ct WHERE ct.tenant_id = c.tenant_id ORDER BY ct.position LIMIT 1) "
        "FROM \"call\" c WHERE c.status = 'voicemail' AND c.recording_url <> '' AND c.tenant_id IS NOT NULL")
    for call_id, tenant_id, caller, url, seconds, arrived_at, call_type in cursor.fetchall():
        message = Message.create(
            tenant=tenant_id, call=call_id, call_type=call_type or "message", category="message",
            fields={"callback_number": caller} if caller else {}, taken_at=arrived_at, source="voicemail",
            recording_url=url, recording_seconds=seconds)
        MessageVersion.create(message=message, number=1, edited_at=arrived_at, state={
            "call_type": message.call_type, "category": "message", "urgent": False,
            "fields": message.fields, "readback": {}})


def down(migrator, db):
    migrator.migrate(migrator.drop_table('message_version'))
    migrator.migrate(migrator.drop_table('escalation'))
    migrator.migrate(migrator.drop_table('message'))
    migrator.migrate(migrator.drop_table('draft'))
