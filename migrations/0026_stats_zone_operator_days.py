"""Figures: the day rows split by operator and added up per zone and local day (app/stats/rollup.py
``StatsOperatorDay``, ``StatsZoneDay``). Neither can be made from the day rows there are, so every
firm's rows are dropped for the worker to rebuild (readers read the calls meanwhile: same figures)."""
from peewee import *

SUMS = ("offered", "answered", "abandoned", "within_sl", "wait_sum", "talk_n", "talk_sum", "acw_n", "acw_sum",
        "aht_n", "aht_sum", "after_hours", "voicemails", "blocked", "messages", "noise")
LONG = ("wait_sum", "talk_sum", "acw_sum", "aht_sum")


def up(migrator, db):
    class StatsZoneDay(Model):
        timezone = CharField(max_length=64)
        day = DateField()
        operator_id = IntegerField()

        class Meta:
            database = db
            table_name = 'stats_zone_day'
            indexes = ((('timezone', 'day', 'operator_id'), True),)

    class StatsOperatorDay(Model):
        tenant_id = IntegerField()
        operator_id = IntegerField()
        day = DateField()

        class Meta:
            database = db
            table_name = 'stats_operator_day'
            indexes = ((('tenant_id', 'day', 'operator_id'), True), (('day', 'tenant_id'), False))

    for model in (StatsZoneDay, StatsOperatorDay):
        for name in SUMS:
            model._meta.add_field(name, (BigIntegerField if name in LONG else IntegerField)(default=0))
    db.create_tables([StatsZoneDay, StatsOperatorDay])
    db.execute_sql('DELETE FROM stats_firm')
    db.execute_sql('DELETE FROM stats_day')


def down(migrator, db):
    for table in ("stats_operator_day", "stats_zone_day"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
