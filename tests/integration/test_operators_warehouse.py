"""LoadFactOperator, LoadDimensionOperator, PublishOperator and DataQualityOperator against a real database.

Every test runs twice: through a ``postgres`` connection (PostgresHook / psycopg, straight to
PostgreSQL) and through a ``redshift`` connection (RedshiftSQLHook / redshift_connector, via the local
Redshift endpoint in front of the same PostgreSQL). The operators and the project's SQL files are used
unchanged; only the connection differs. Tables live in a dedicated database, rebuilt for every test.
Expected values are derived from the rows each test inserts, not from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowException
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sparkify.intervals import MACROS
from sparkify.load import LoadDimensionOperator, LoadFactOperator
from sparkify.publish import PublishOperator
from sparkify.quality import DataQualityOperator
from sparkify.tables import PUBLISHED, TABLES, drop_statement
from tests.integration.databases import fresh_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
DATABASE = "sparkify_operators_it"
# What the local endpoint strips from Redshift DDL; applied here for the direct-PostgreSQL variant.
REDSHIFT_ONLY = re.compile(r"\b(?:DISTSTYLE\s+\w+|DISTKEY\s*\([^)]*\)|SORTKEY\s*\([^)]*\))", re.IGNORECASE)

HOUR = datetime(2018, 11, 15, 13)
DAY_TABLE = "staging_events_20181115"  # the day's staging table of HOUR
DAY_SOURCE = "s3://udacity-dend/log_data/2018/11/2018-11-15-events.json"
NEXT_SOURCE = "s3://udacity-dend/log_data/2018/11/2018-11-16-events.json"
# the next day's file staged for the 15th, and the 16th's own tables
LATE_TABLES = ("staging_events_next_day_20181115", "staging_events_20181116", "staging_events_next_day_20181116")


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def database(pg_server):
    return fresh_database(pg_server, DATABASE)


@pytest.fixture(params=["postgres", "redshift"])
def conn_id(request, pg_server, database, monkeypatch):
    """An Airflow connection id of the requested type, set through AIRFLOW_CONN_<ID>."""
    if request.param == "postgres":
        conn = {
            "conn_type": "postgres",
            "host": pg_server.host,
            "port": pg_server.port,
            "login": pg_server.user,
            "password": pg_server.password,
            "schema": database,
        }
    else:
        try:
            endpoint = request.getfixturevalue("endpoint")
        except pytest.FixtureLookupError:
            pytest.skip("no `endpoint` fixture (local Redshift endpoint) in this checkout")
        conn = endpoint.airflow_connection("redshift")
        conn["schema"] = database
    monkeypatch.setenv(f"AIRFLOW_CONN_SPARKIFY_IT_{request.param.upper()}", json.dumps(conn))
    return f"sparkify_it_{request.param}"


@pytest.fixture
def db(pg_server, database):
    """A direct psycopg connection (autocommit) to the test database, every table freshly created."""
    with psycopg.connect(pg_server.dsn(dbname=database), autocommit=True) as conn:
        conn.execute(drop_statement(SQL))
        # per-day tables outlive a reset (a stale cache)
        conn.execute(f"DROP TABLE IF EXISTS {DAY_TABLE}, {', '.join(LATE_TABLES)}")
        for table in TABLES:
            conn.execute(REDSHIFT_ONLY.sub("", render(table.ddl)))
        yield conn


# ----------------------------------------------------------------------------------- helpers
def render(path: str, start: datetime = HOUR) -> str:
    """Render a project SQL/YAML file the way Airflow does for the hour starting at ``start``."""
    env = Environment(loader=FileSystemLoader(str(SQL)), undefined=StrictUndefined)
    env.globals.update(MACROS)
    defaults = SimpleNamespace(get=lambda name, default=None: default)  # no Variables set: the defaults
    return env.get_template(path).render(
        data_interval_start=start, data_interval_end=start + timedelta(hours=1), var={"value": defaults}
    )


def event(
    ts: datetime,
    session: int,
    item: int,
    *,
    user="7",
    level="free",
    page="NextSong",
    song=None,
    artist=None,
    length=None,
    first="Ann",
    last="Lee",
):
    if page == "NextSong":
        song = song or f"Song {session}-{item}"
        artist = artist or "Some Artist"
        length = length if length is not None else 200.5
    return {
        "artist": artist, "auth": "Logged In" if user else "Logged Out", "firstname": first if user else None,
        "gender": "F" if user else None, "iteminsession": item, "lastname": last if user else None,
        "length": length, "level": level, "location": "Town, ST" if user else None,
        "method": "PUT" if page == "NextSong" else "GET", "page": page, "registration": 1540919166796.0,
        "sessionid": session, "song": song, "status": 200, "ts": ts, "useragent": "UA" if user else None,
        "userid": user,
    }  # fmt: skip


def insert(db, table: str, rows: list[dict]) -> None:
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        db.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', list(row.values()))


def song(song_id, title, artist_id, artist_name, duration, year=0, location="", lat=None, lon=None):
    return {
        "num_songs": 1, "artist_id": artist_id, "artist_latitude": lat, "artist_longitude": lon,
        "artist_location": location, "artist_name": artist_name, "song_id": song_id, "title": title,
        "duration": duration, "year": year,
    }  # fmt: skip


def rows(db, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def fact_operator(conn_id, start: datetime = HOUR) -> LoadFactOperator:
    return LoadFactOperator(
        task_id="load_songplays_fact",
        conn_id=conn_id,
        table="audit_songplays",
        sql=render("load/songplays.sql", start),
        interval_start=start.isoformat() + "+00:00",
        interval_end=(start + timedelta(hours=1)).isoformat() + "+00:00",
    )


def dim_operator(conn_id, table, mode, start: datetime = HOUR, sql=None) -> LoadDimensionOperator:
    bare = table.strip('"')
    return LoadDimensionOperator(
        task_id=f"load_{bare}_dim",
        conn_id=conn_id,
        table=table,
        sql=sql or render(f"load/{bare}.sql", start),
        mode=mode,
    )


CATALOG = [
    song("SOAAA", "Matched Song", "ARAAA", "Matched Artist", 210.0, 1999, "Memphis, TN", 35.1, -90.0),
    song("SOBBB", "Other Song", "ARBBB", "Other Artist", 180.0),
    # two catalog songs with the same (title, artist_name, duration): a play must not be duplicated
    song("SODUP2", "Twin", "ARCCC", "Twins", 100.0),
    song("SODUP1", "Twin", "ARCCC", "Twins", 100.0),
]


def staged_hour(db) -> list[dict]:
    """Events around HOUR: 3 NextSong inside, 1 Home inside, 1 logged-out inside, 2 NextSong outside."""
    events = [
        event(HOUR - timedelta(seconds=1), 10, 0),  # previous hour
        event(HOUR, 10, 1, song="Matched Song", artist="Matched Artist", length=210.0),  # inclusive start
        event(HOUR + timedelta(minutes=5), 10, 2, song="Twin", artist="Twins", length=100.0),
        event(HOUR + timedelta(minutes=5), 11, 0, user="8", level="paid"),  # same ts, other play
        event(HOUR + timedelta(minutes=9), 11, 1, user="8", level="paid", page="Home"),
        event(HOUR + timedelta(minutes=10), 12, 0, user="", page="Home"),
        event(HOUR + timedelta(hours=1), 12, 1),  # exclusive end: next hour
    ]
    insert(db, DAY_TABLE, events)
    insert(db, "staging_songs", CATALOG)
    return events


# ----------------------------------------------------------------------------------- fact
def test_fact_loads_every_nextsong_play_of_the_interval(db, conn_id):
    events = staged_hour(db)
    in_hour = [e for e in events if e["page"] == "NextSong" and HOUR <= e["ts"] < HOUR + timedelta(hours=1)]
    fact_operator(conn_id).execute({})

    got = rows(db, "SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id, "
                   "item_in_session FROM audit_songplays ORDER BY session_id, item_in_session")  # fmt: skip
    assert len(got) == len(in_hour)
    assert [r[0] for r in got] == [md5(f"{e['sessionid']}:{e['iteminsession']}") for e in in_hour]
    assert [(r[6], r[7]) for r in got] == [(e["sessionid"], e["iteminsession"]) for e in in_hour]
    by_key = {(r[6], r[7]): r for r in got}
    assert by_key[(10, 1)][4:6] == ("SOAAA", "ARAAA")  # exact (title, artist, duration) match
    assert by_key[(10, 2)][4:6] == ("SODUP1", "ARCCC")  # deterministic among duplicates
    assert by_key[(11, 0)][2:6] == (8, "paid", None, None)  # no catalog match: still a play


def test_fact_rerun_and_neighbouring_hours(db, conn_id):
    staged_hour(db)
    fact_operator(conn_id).execute({})
    first = rows(db, "SELECT * FROM audit_songplays ORDER BY songplay_id")
    fact_operator(conn_id).execute({})  # rerun: identical rows, no duplicates
    assert rows(db, "SELECT * FROM audit_songplays ORDER BY songplay_id") == first

    fact_operator(conn_id, HOUR - timedelta(hours=1)).execute({})  # the previous hour adds its play only
    assert len(rows(db, "SELECT 1 FROM audit_songplays")) == len(first) + 1
    db.execute(f"DELETE FROM {DAY_TABLE}")
    fact_operator(conn_id).execute({})  # an empty interval empties exactly that interval
    remaining = rows(db, "SELECT start_time FROM audit_songplays")
    assert remaining == [(HOUR - timedelta(seconds=1),)]


def test_fact_is_one_transaction(db, conn_id):
    staged_hour(db)
    fact_operator(conn_id).execute({})
    before = rows(db, "SELECT * FROM audit_songplays ORDER BY songplay_id")
    broken = LoadFactOperator(
        task_id="broken",
        conn_id=conn_id,
        table="audit_songplays",
        # fails at run time, after the DELETE has run
        sql=render("load/songplays.sql").replace("e.sessionid                                 AS session_id",
                                                 "e.sessionid / (e.sessionid - e.sessionid)   AS session_id"),
        interval_start="2018-11-15T13:00:00+00:00",
        interval_end="2018-11-15T14:00:00+00:00",
    )  # fmt: skip
    assert "(e.sessionid - e.sessionid)" in broken.sql
    with pytest.raises(Exception, match="(?i)division by zero"):
        broken.execute({})
    assert rows(db, "SELECT * FROM audit_songplays ORDER BY songplay_id") == before


# ----------------------------------------------------------------------------------- dimensions
def test_truncate_insert_is_atomic_and_deterministic(db, conn_id):
    staged_hour(db)
    dim_operator(conn_id, "songs", "truncate-insert").execute({})
    dim_operator(conn_id, "artists", "truncate-insert").execute({})
    expected_songs = {(s["song_id"], s["title"], s["artist_id"]) for s in CATALOG}
    assert set(rows(db, "SELECT song_id, title, artist_id FROM songs")) == expected_songs
    assert rows(db, "SELECT artist_id, name, location FROM artists ORDER BY artist_id") == [
        ("ARAAA", "Matched Artist", "Memphis, TN"),
        ("ARBBB", "Other Artist", None),  # "" -> NULL
        ("ARCCC", "Twins", None),
    ]
    before = rows(db, "SELECT * FROM songs ORDER BY song_id")
    failing = "SELECT song_id, title, artist_id, year / (year - year), duration FROM staging_songs"
    with pytest.raises(Exception, match="(?i)division by zero"):
        dim_operator(conn_id, "songs", "truncate-insert", sql=failing).execute({})
    assert rows(db, "SELECT * FROM songs ORDER BY song_id") == before  # the DELETE was rolled back

    insert(db, "staging_songs", [song("SOAAA", "Matched Song", "ARAAA", "Matched Artist", 210.0)])
    dim_operator(conn_id, "songs", "truncate-insert").execute({})  # duplicate song_id: one row
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT song_id) FROM songs") == [(4, 4)]


def interval_operator(conn_id, table, column, start: datetime = HOUR) -> LoadDimensionOperator:
    """The DAG's audit loads of users and time: replace the interval's rows of an audit table."""
    return LoadDimensionOperator(
        task_id=f"load_{table}", conn_id=conn_id, table=table, mode="interval", time_column=column,
        sql=render(f"load/{table.removeprefix('audit_')}.sql", start),
        interval_start=start.isoformat(), interval_end=(start + timedelta(hours=1)).isoformat(),
    )


def publish_operator(conn_id, start: datetime = HOUR) -> PublishOperator:
    return PublishOperator(
        task_id="publish", conn_id=conn_id, hour_sql=render("publish/hour.sql", start),
        catalog_sql=render("publish/catalog.sql", start), catalog_source="s3://udacity-dend/song_data/",
        interval_start=start.isoformat(), interval_end=(start + timedelta(hours=1)).isoformat(),
    )


def publish_hour(conn_id, start: datetime = HOUR, with_catalog: bool = False) -> None:
    operator = publish_operator(conn_id, start)
    operator.run_in_transaction(operator.build_statements("test-run", with_catalog))


def test_users_newer_wins_on_publish(db, conn_id):
    later = HOUR + timedelta(hours=1)
    insert(db, DAY_TABLE, [
        event(HOUR + timedelta(minutes=1), 20, 0, user="7", level="free", page="Home"),
        event(HOUR + timedelta(minutes=2), 20, 1, user="7", level="free", page="Submit Upgrade"),
        event(later + timedelta(minutes=3), 20, 2, user="7", level="paid"),
        event(HOUR + timedelta(minutes=4), 21, 0, user="9", level="paid", first="Bo"),
        event(HOUR + timedelta(minutes=4), 21, 1, user="9", level="free", first="Bo"),  # same ts: item breaks tie
        event(HOUR + timedelta(minutes=6), 22, 0, user="", level="free", page="Home"),  # logged out: no user
    ])  # fmt: skip
    users = "SELECT user_id, level, last_event_ts, last_session_id, last_item_in_session FROM users ORDER BY user_id"

    def load_and_publish(start):
        interval_operator(conn_id, "audit_users", "last_event_ts", start).execute({})
        publish_hour(conn_id, start)

    load_and_publish(later)  # newer hour first
    assert rows(db, users) == [(7, "paid", later + timedelta(minutes=3), 20, 2)]

    load_and_publish(HOUR)  # backfill an older hour
    assert rows(db, users) == [
        (7, "paid", later + timedelta(minutes=3), 20, 2),  # not overwritten by the older "free"
        (9, "free", HOUR + timedelta(minutes=4), 21, 1),
    ]
    assert rows(db, "SELECT COUNT(*) FROM audit_users") == [(3,)]  # one candidate per user and hour
    load_and_publish(HOUR)  # rerun: no change
    assert len(rows(db, users)) == 2

    insert(db, DAY_TABLE, [event(later + timedelta(minutes=30), 23, 0, user="7", level="free")])
    load_and_publish(later)  # a newer event wins
    assert rows(db, users)[0][:2] == (7, "free")


def test_time_rows_of_the_interval(db, conn_id):
    staged_hour(db)
    fact_operator(conn_id).execute({})
    interval_operator(conn_id, "audit_time", "start_time").execute({})
    interval_operator(conn_id, "audit_time", "start_time").execute({})  # rerun: same rows
    starts = sorted({r[0] for r in rows(db, "SELECT start_time FROM audit_songplays")})
    got = rows(db, 'SELECT start_time, hour, day, week, month, year, weekday FROM audit_time ORDER BY start_time')
    assert [r[0] for r in got] == starts
    for start_time, hour, day, week, month, year, weekday in got:
        iso = start_time.isocalendar()
        assert (hour, day, month, year) == (
            start_time.hour,
            start_time.day,
            start_time.month,
            start_time.year,
        )
        assert week == iso.week
        assert weekday == iso.weekday % 7  # Sunday = 0


# ----------------------------------------------------------------------------------- audit gate, publish
def record_staged_day(db) -> None:
    """What stage_events' post_execute records after its COPY: the day file and the rows it staged."""
    db.execute("DELETE FROM staging_state WHERE source = %s", (DAY_SOURCE,))
    db.execute(
        f"INSERT INTO staging_state (source, target_table, fingerprint, objects, bytes, rows_staged, staged_at) "
        f"SELECT %s, %s, 'f', 1, 1, COUNT(*), now() FROM {DAY_TABLE}", (DAY_SOURCE, f"public.{DAY_TABLE}"))


def audit_hour(db, conn_id, start=HOUR, catalog=False):
    fact_operator(conn_id, start).execute({})
    interval_operator(conn_id, "audit_users", "last_event_ts", start).execute({})
    interval_operator(conn_id, "audit_time", "start_time", start).execute({})
    if catalog:
        dim_operator(conn_id, "audit_songs", "truncate-insert", start, sql=render("load/songs.sql", start)).execute({})
        dim_operator(conn_id, "audit_artists", "truncate-insert", start, sql=render("load/artists.sql", start)).execute({})


def quality(conn_id, start=HOUR, path="quality/checks.yaml") -> DataQualityOperator:
    return DataQualityOperator(task_id="run_quality_checks", conn_id=conn_id, checks=render(path, start))


def checksums(db) -> list[tuple]:
    return [rows(db, f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(t::text, '|' ORDER BY t::text), '')) FROM {table} t")[0]
            for table in (t.sql_name for t in PUBLISHED)]


def test_gate_and_publish_on_a_loaded_hour_and_on_an_empty_hour(db, conn_id):
    staged_hour(db)
    record_staged_day(db)
    audit_hour(db, conn_id, catalog=True)
    result = quality(conn_id).execute({})
    assert result["failed"] == 0
    publish_hour(conn_id, with_catalog=True)
    assert quality(conn_id, path="quality/published.yaml").execute({})["failed"] == 0
    assert rows(db, "SELECT COUNT(*) FROM songplays") == rows(db, "SELECT COUNT(*) FROM audit_songplays")
    assert rows(db, "SELECT COUNT(*) FROM songs") == [(4,)]

    empty = HOUR - timedelta(hours=5)
    audit_hour(db, conn_id, empty)
    assert quality(conn_id, empty).execute({})["failed"] == 0


def test_gate_failure_lists_every_failed_check_and_publishes_nothing(db, conn_id):
    staged_hour(db)
    record_staged_day(db)
    audit_hour(db, conn_id)
    assert quality(conn_id).execute({})["failed"] == 0
    publish_hour(conn_id)
    published = checksums(db)
    # the day file is restaged without one of the hour's plays (truncated), plus a duplicated audit play
    # and an unknown level; the staging table is not what was recorded for the day file either
    db.execute(f"DELETE FROM {DAY_TABLE} WHERE sessionid = 10 AND iteminsession = 2")
    audit_hour(db, conn_id)
    db.execute("INSERT INTO audit_songplays SELECT * FROM audit_songplays WHERE session_id = 10")
    db.execute("UPDATE audit_songplays SET level = 'gold' WHERE session_id = 11")
    with pytest.raises(AirflowException) as excinfo:
        quality(conn_id).execute({})
    message = str(excinfo.value)
    interval = f" where start_time >= '{HOUR:%Y-%m-%d %H:%M:%S}' AND start_time < '{HOUR + timedelta(hours=1):%Y-%m-%d %H:%M:%S}'"
    assert f"staging_state sql({DAY_TABLE} holds {DAY_SOURCE} as recorded in staging_state): observed 6, expected 7" in message
    assert f"audit_songplays unique(songplay_id){interval}: observed 1, expected 0" in message
    assert f"audit_songplays accepted_values(level){interval}: observed 1, expected 0" in message
    assert "plays_equal_nextsong_events_of_the_day_file): observed 3, expected 2" in message
    assert "songplays sql(hour_does_not_shrink): observed 1, expected 0" in message
    assert message.startswith("6 of ")
    assert checksums(db) == published  # nothing was published


def record_staged(db, source: str, table: str) -> None:
    db.execute("DELETE FROM staging_state WHERE source = %s", (source,))
    db.execute(
        f"INSERT INTO staging_state (source, target_table, fingerprint, objects, bytes, rows_staged, staged_at) "
        f"SELECT %s, %s, 'f', 1, 1, COUNT(*), now() FROM {table}", (source, f"public.{table}"))


def test_a_late_play_in_the_next_days_file_is_published_in_its_hour_and_a_lost_one_is_named(db, conn_id):
    """Files are named by the UTC day events arrived: a play of 23:55 may sit in the next day's file."""
    hour_23, next_day = datetime(2018, 11, 15, 23), datetime(2018, 11, 16, 0)
    insert(db, "staging_songs", CATALOG)
    insert(db, DAY_TABLE, [event(hour_23 + timedelta(minutes=10), 30, 0)])
    # the next day's file as the hour-23 run staged it: a late play of 23:55, and a play of the 16th itself
    late, own = event(hour_23 + timedelta(minutes=55), 31, 0), event(next_day + timedelta(minutes=10), 34, 0)
    insert(db, "staging_events_next_day_20181115", [late, own])
    record_staged(db, DAY_SOURCE, DAY_TABLE)
    record_staged(db, f"{NEXT_SOURCE} into public.staging_events_next_day_20181115", "staging_events_next_day_20181115")
    audit_hour(db, conn_id, hour_23)
    assert quality(conn_id, hour_23).execute({})["failed"] == 0
    publish_hour(conn_id, hour_23)
    assert rows(db, "SELECT session_id, item_in_session FROM songplays ORDER BY 1") == [(30, 0), (31, 0)]

    # the 16th's own file: the published late play, one that arrived after hour 23 ran, one two days late
    for table in LATE_TABLES[1:]:
        db.execute(REDSHIFT_ONLY.sub("", render(f"ddl/{table.removesuffix('_20181116')}.sql", next_day)))
    lost, stale = event(hour_23 + timedelta(minutes=58), 32, 0), event(datetime(2018, 11, 14, 10), 33, 0)
    insert(db, "staging_events_20181116", [late, lost, stale, own])
    record_staged(db, NEXT_SOURCE, "staging_events_20181116")
    audit_hour(db, conn_id, next_day)
    with pytest.raises(AirflowException) as excinfo:
        quality(conn_id, next_day).execute({})
    message = str(excinfo.value)
    assert message.startswith("1 of ")
    assert "staging_events_20181116 sql(late_plays_in_the_day_file_never_published): observed 2, expected 0" in message
    assert (f"ts=2018-11-14 10:00:00, userid=7, sessionid=33, iteminsession=0, file={NEXT_SOURCE}\n"
            f"      ts=2018-11-15 23:58:00, userid=7, sessionid=32, iteminsession=0, file={NEXT_SOURCE}") in message
    assert "sessionid=31" not in message  # published in its hour: not lost

    # the remedy: the hour 23 run again, with the next day's file as it is now
    db.execute("DELETE FROM staging_events_next_day_20181115")
    insert(db, "staging_events_next_day_20181115", [late, lost, stale, own])
    record_staged(db, f"{NEXT_SOURCE} into public.staging_events_next_day_20181115", "staging_events_next_day_20181115")
    audit_hour(db, conn_id, hour_23)
    assert quality(conn_id, hour_23).execute({})["failed"] == 0
    publish_hour(conn_id, hour_23)
    assert rows(db, "SELECT session_id FROM songplays ORDER BY 1") == [(30,), (31,), (32,)]
    with pytest.raises(AirflowException, match=r"observed 1, expected 0\n      ts=2018-11-14 10:00:00"):
        quality(conn_id, next_day).execute({})  # two days late: no run can read it, the file needs fixing


def test_publish_is_atomic(db, conn_id):
    staged_hour(db)
    audit_hour(db, conn_id, catalog=True)
    publish_hour(conn_id, with_catalog=True)
    published = checksums(db)
    db.execute("DELETE FROM audit_artists")  # the catalog publish now fails at its last INSERT
    db.execute("ALTER TABLE audit_artists ALTER COLUMN name DROP NOT NULL")
    db.execute("INSERT INTO audit_artists (artist_id, name) VALUES ('ARX', NULL)")
    db.execute(f"DELETE FROM {DAY_TABLE} WHERE sessionid = 11")
    audit_hour(db, conn_id)  # an hour with one play fewer, published together with the broken catalog
    with pytest.raises(Exception, match="(?i)null"):
        publish_hour(conn_id, with_catalog=True)
    assert checksums(db) == published
    assert rows(db, "SELECT COUNT(*) FROM publish_log") == [(1,)]
