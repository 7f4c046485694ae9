"""QA review: the weekly sample size per floor, and each sampled message with its checklist, score and comment."""
from peewee import *
from app.db import JSONField, UTCDateTimeField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Message(Model):
        class Meta:
            database = db
            table_name = 'message'

    class QASetting(Model):
        floor = CharField(max_length=40, unique=True, default='main')
        sample_size = IntegerField(default=5)
        updated_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        updated_at = UTCDateTimeField()
        class Meta:
            database = db
            table_name = 'qa_setting'

    class QAReview(Model):
        message = ForeignKeyField(Message, unique=True, on_delete='CASCADE')
        operator = ForeignKeyField(User, on_delete='CASCADE')
        week = DateField()
        sampled_at = UTCDateTimeField()
        reviewer = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reviewed_at = UTCDateTimeField(null=True)
        checks = JSONField(default=dict)
        score = IntegerField(null=True)
        comment = TextField(default='')
        class Meta:
            database = db
            table_name = 'qa_review'
            indexes = ((('operator', 'week'), False), (('reviewed_at',), False))
    db.create_tables([QASetting, QAReview])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('qa_review'), migrator.drop_table('qa_setting'))
