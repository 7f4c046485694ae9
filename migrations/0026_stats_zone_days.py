"""Figures: the day rows added up per zone and local day (app/stats/rollup.py ``StatsZoneDay``),
filled from the day rows there are."""
from peewee import *

SUMS = ("offered", "answered", "abandoned", "within_sl", "wait_sum", "talk_n", "talk_sum", "acw_n", "acw_sum",
        "aht_n", "aht_sum", "after_hours", "voicemails", "blocked", "messages", "noise")
LONG = ("wait_sum", "talk_sum", "acw_sum", "aht_sum")


def up(migrator, db):
    class StatsZoneDay(Model):
        timezone = CharField(max_length=64)
        day = DateField()

        class Meta:
            database = db
            table_name = 'stats_zone_day'
            indexes = ((('timezone', 'day'), True),)

    for name in SUMS:
        StatsZoneDay._meta.add_field(name, (BigIntegerField if name in LONG else IntegerField)(default=0))
    db.create_tables([StatsZoneDay])
    columns = ", ".join(SUMS)
    db.execute_sql(
        f'INSERT INTO stats_zone_day (timezone, day, {columns}) '
        f'SELECT f.timezone, d.day, {", ".join(f"SUM(d.{c})" for c in SUMS)} '
        'FROM stats_day d JOIN stats_firm f ON f.tenant_id = d.tenant_id GROUP BY f.timezone, d.day')


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "stats_zone_day"')
