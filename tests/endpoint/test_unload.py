"""UNLOAD through the endpoint into the local S3 (moto server), as r_UNLOAD and r_UNLOAD_command_examples
(https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html, .../r_UNLOAD_command_examples.html) describe."""

from __future__ import annotations

import gzip
import json

import psycopg
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import CREDS, Bucket, unique

pytestmark = pytest.mark.integration

ROLE = "iam_role 'arn:aws:iam::0123456789012:role/MyRedshiftRole'"
SECRET = "sparkify-local-secret"   # the secret in CREDS: must never reach PostgreSQL


@pytest.fixture
def venue(conn):
    """The three VENUE rows the CSV and JSON examples show."""
    name = unique("venue")
    conn.execute(f"create table {name} (venueid smallint, venuename varchar(100), venuecity varchar(30), "
                 f"venuestate char(2), venueseats integer)")
    conn.execute(f"insert into {name} values (1, 'Pinewood Racetrack', 'Akron', 'OH', 0), "
                 f"(2, 'Columbus \"Crew\" Stadium', 'Columbus', 'OH', 0), "
                 f"(4, 'Community, Ballpark, Arena', 'Kansas City', 'KS', 0)")
    yield name
    conn.execute(f"drop table {name}")


def keys(bucket: Bucket, prefix: str = "") -> list[str]:
    found = bucket.client.list_objects_v2(Bucket=bucket.name, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in found)


def body(bucket: Bucket, key: str) -> bytes:
    return bucket.client.get_object(Bucket=bucket.name, Key=key)["Body"].read()


def test_csv(conn, bucket, venue):
    """"Unload VENUE to a CSV file": fields with delimiters or quotes are quoted, quotes doubled."""
    status = conn.execute(f"unload ('select * from {venue} order by venueid') to '{bucket.url('unload/')}' "
                          f"{ROLE} CSV")
    assert status.statusmessage == "UNLOAD"
    assert keys(bucket) == ["unload/0000_part_00"]   # one slice: <prefix><slice>_part_<part>
    assert body(bucket, "unload/0000_part_00").decode() == (
        '1,Pinewood Racetrack,Akron,OH,0\n'
        '2,"Columbus ""Crew"" Stadium",Columbus,OH,0\n'
        '4,"Community, Ballpark, Arena",Kansas City,KS,0\n')


def test_csv_with_a_delimiter(conn, bucket, venue):
    """"Unload VENUE to a CSV file using a delimiter": the pipe in a value is quoted, the commas are not."""
    conn.execute(f"update {venue} set venuename = 'Pinewood Race|track' where venueid = 1")
    conn.execute(f"unload ('select * from {venue} order by venueid') to '{bucket.url('unload/')}' "
                 f"{ROLE} CSV DELIMITER AS '|'")
    assert body(bucket, "unload/0000_part_00").decode() == (
        '1|"Pinewood Race|track"|Akron|OH|0\n'
        '2|"Columbus ""Crew"" Stadium"|Columbus|OH|0\n'
        '4|Community, Ballpark, Arena|Kansas City|KS|0\n')


def test_json(conn, bucket, venue):
    """"Unload the VENUE table to a JSON file": one object per line, numbers as numbers."""
    conn.execute(f"unload ('select * from {venue} order by venueid') to '{bucket.url('unload/')}' {ROLE} JSON")
    lines = body(bucket, "unload/0000_part_00").decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"venueid": 1, "venuename": "Pinewood Racetrack", "venuecity": "Akron", "venuestate": "OH", "venueseats": 0},
        {"venueid": 2, "venuename": 'Columbus "Crew" Stadium', "venuecity": "Columbus", "venuestate": "OH",
         "venueseats": 0},
        {"venueid": 4, "venuename": "Community, Ballpark, Arena", "venuecity": "Kansas City", "venuestate": "KS",
         "venueseats": 0}]
    # r_UNLOAD, JSON: "NULL values are unloaded as null"; zero rows write no object.
    conn.execute(f"unload ('select venueid, null::text as note from {venue} where venueid = 1') "
                 f"to '{bucket.url('nulls/')}' {ROLE} FORMAT JSON")
    assert json.loads(body(bucket, "nulls/0000_part_00")) == {"venueid": 1, "note": None}
    conn.execute(f"unload ('select * from {venue} where false') to '{bucket.url('none/')}' {ROLE} JSON")
    assert keys(bucket, "none/") == []


def test_header_parallel_off_pipe_delimited(conn, bucket):
    """"Unload VENUE with a header" (pipe-delimited by default, PARALLEL OFF: <prefix>000)."""
    name = unique("venue")
    conn.execute(f"create table {name} (venueid smallint, venuename varchar(100), venuecity varchar(30), "
                 f"venuestate char(2), venueseats integer)")
    conn.execute(f"insert into {name} values (6, 'New York Giants Stadium', 'East Rutherford', 'NJ', 80242), "
                 f"(78, 'INVESCO Field', 'Denver', 'CO', 76125), (83, 'FedExField', 'Landover', 'MD', 91704), "
                 f"(79, 'Arrowhead Stadium', 'Kansas City', 'MO', 79451), (5, 'Gillette', 'Foxborough', 'MA', 68756)")
    conn.execute(f"unload ('select * from {name} where venueseats > 75000 order by venuename desc') "
                 f"to '{bucket.url('unload/venue_serial_')}' {ROLE} header parallel off")
    assert keys(bucket) == ["unload/venue_serial_000"]
    assert body(bucket, "unload/venue_serial_000").decode() == (
        "venueid|venuename|venuecity|venuestate|venueseats\n"
        "6|New York Giants Stadium|East Rutherford|NJ|80242\n"
        "78|INVESCO Field|Denver|CO|76125\n"
        "83|FedExField|Landover|MD|91704\n"
        "79|Arrowhead Stadium|Kansas City|MO|79451\n")


def test_manifest_and_prefix(conn, bucket, venue):
    """"Unload VENUE with a manifest file": <prefix>manifest lists the data files' URLs."""
    prefix = bucket.url("tickit/venue_")
    conn.execute(f"unload ('select * from {venue}') to '{prefix}' {ROLE} manifest")
    assert keys(bucket) == ["tickit/venue_0000_part_00", "tickit/venue_manifest"]
    assert json.loads(body(bucket, "tickit/venue_manifest")) == {"entries": [{"url": prefix + "0000_part_00"}]}
    conn.execute(f"unload ('select * from {venue}') to '{bucket.url('v/venue_')}' {ROLE} manifest verbose")
    manifest = json.loads(body(bucket, "v/venue_manifest"))
    size = len(body(bucket, "v/venue_0000_part_00"))
    assert manifest["entries"] == [{"url": bucket.url("v/venue_0000_part_00"),
                                    "meta": {"content_length": size, "record_count": 3}}]
    assert manifest["meta"] == {"content_length": size, "record_count": 3}
    assert manifest["author"] == {"name": "Amazon Redshift", "version": "1.0.0"}


def test_null_as_addquotes_escape_gzip(conn, bucket):
    """r_UNLOAD: NULL AS, ADDQUOTES, ESCAPE (\\ before newline, CR, delimiter, \\ and quotes), GZIP (.gz)."""
    conn.execute(f"unload ('select 1 as a, null::text as b, ''x|y\"z'' as c') to '{bucket.url('t/')}' "
                 f"credentials '{CREDS}' null as 'NULL' addquotes escape gzip")
    assert keys(bucket, "t/") == ["t/0000_part_00.gz"]
    assert gzip.decompress(body(bucket, "t/0000_part_00.gz")).decode() == '"1"|NULL|"x\\|y\\"z"\n'


def test_existing_files_need_allowoverwrite_or_cleanpath(conn, bucket, venue):
    """r_UNLOAD, ALLOWOVERWRITE: "By default, UNLOAD fails if it finds files that it would possibly overwrite"."""
    target = bucket.url("o/")
    conn.execute(f"unload ('select * from {venue}') to '{target}' {ROLE} csv")
    with pytest.raises(psycopg.errors.InternalError_, match="ALLOWOVERWRITE"):
        conn.execute(f"unload ('select * from {venue}') to '{target}' {ROLE} csv")
    conn.execute(f"unload ('select venueid from {venue}') to '{target}' {ROLE} csv allowoverwrite")
    assert body(bucket, "o/0000_part_00").decode().splitlines() == ["1", "2", "4"]
    bucket.put("o/stale", b"old")
    conn.execute(f"unload ('select venueid from {venue} where venueid = 4') to '{target}' {ROLE} csv cleanpath")
    assert keys(bucket, "o/") == ["o/0000_part_00"]


def test_quotes_in_the_query_and_a_transaction_see_uncommitted_rows(endpoint, bucket, venue):
    """r_UNLOAD: literals in the query use doubled quotes; the query runs in the client's own transaction
    (redshift_connector: extended protocol, autocommit off)."""
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as rc:
        cur = rc.cursor()
        cur.execute(f"insert into {venue} values (99, 'Tonopah', 'Tonopah', 'NV', 10)")
        cur.execute(f"unload ('select venueid, venuename from {venue} where venuestate=''NV''') "
                    f"to '{bucket.url('nv_')}' {ROLE} parallel off")
        rc.rollback()
    assert body(bucket, "nv_000").decode() == "99|Tonopah\n"


@pytest.mark.parametrize("options, code, words", [
    ("FORMAT PARQUET", "0A000", "PARQUET"),
    ("PARQUET", "0A000", "PARQUET"),
    ("FIXEDWIDTH '0:3'", "0A000", "FIXEDWIDTH"),
    ("PARTITION BY (venueid)", "0A000", "PARTITION BY"),
    ("ENCRYPTED", "0A000", "ENCRYPTED"),
    ("ZSTD", "0A000", "ZSTD"),
    ("BOGUSOPTION", "0A000", "BOGUSOPTION"),
    ("JSON HEADER", "42601", "HEADER"),
    ("CSV ADDQUOTES", "42601", "ADDQUOTES"),
    ("ALLOWOVERWRITE CLEANPATH", "42601", "CLEANPATH"),
    ("MAXFILESIZE 1 MB", "42601", "MAXFILESIZE"),
])
def test_refused_options_are_named_and_the_secret_never_reaches_postgresql(conn, bucket, venue, pg_server,
                                                                          options, code, words):
    """r_UNLOAD: options the endpoint cannot honour (or that the page forbids together) fail by name."""
    with pytest.raises(psycopg.Error) as err:
        conn.execute(f"unload ('select * from {venue}') to '{bucket.url('r/')}' credentials '{CREDS}' {options}")
    assert err.value.sqlstate == code
    assert words in str(err.value)
    assert keys(bucket, "r/") == []
    log = pg_server.log_file.read_text(errors="replace")
    assert "$redshift_unload$" in log   # PostgreSQL logs the failing statement: the stand-in, not the UNLOAD
    assert SECRET not in log


def test_limit_only_in_a_nested_select(conn, bucket, venue):
    """r_UNLOAD, "Limit clause": LIMIT in the outer SELECT fails; the documented nested form works."""
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="Limit clause is not supported"):
        conn.execute(f"unload ('select * from {venue} limit 10') to '{bucket.url('l1/')}' {ROLE}")
    conn.execute(f"""unload ('select venueid from {venue} where venueid in
        (select venueid from {venue} order by venueid desc limit 2)') to '{bucket.url('l2/')}' {ROLE}""")
    assert sorted(body(bucket, "l2/0000_part_00").decode().split()) == ["2", "4"]


def test_unload_without_authorization_is_refused(conn, bucket, venue):
    """r_UNLOAD: "The UNLOAD command needs authorization to write data to Amazon S3"."""
    with pytest.raises(psycopg.errors.SyntaxError, match="authorization"):
        conn.execute(f"unload ('select * from {venue}') to '{bucket.url('a/')}'")


def test_cleanpath_removes_the_files_unload_names_from_the_prefix(conn, bucket, venue):
    """r_UNLOAD (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html), CLEANPATH: "removes existing
    files located in the Amazon S3 path specified in the TO clause". TO 's3://object-path/name-prefix' names
    files "<name-prefix><slice-number>_part_<part-number>" (PARALLEL OFF: <name-prefix>000, 001, ...), plus
    "<name-prefix>manifest": those are at the path. 'data2/x' and 'datafile.csv' only share characters with
    the prefix 'data' and stay, as do other folders."""
    stale = ["data0000_part_00", "data0001_part_00", "data0000_part_01.gz", "data000", "data001.csv",
             "datamanifest"]
    kept = ["data2/x", "datafile.csv", "data_0000_part_00", "other/x", "dat0000_part_00"]
    for key in stale + kept:
        bucket.put(key, b"old")
    conn.execute(f"unload ('select venueid from {venue} order by venueid') to '{bucket.url('data')}' "
                 f"{ROLE} csv cleanpath")
    assert keys(bucket) == sorted(kept + ["data0000_part_00"])
    assert body(bucket, "data0000_part_00").decode().splitlines() == ["1", "2", "4"]


def test_cleanpath_to_a_folder_removes_every_file_in_it(conn, bucket, venue):
    """r_UNLOAD (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html), CLEANPATH with a TO that
    ends in "/": the path is the folder, so every file located in it goes, subfolders included (the page
    limits PARTITION BY to the partition folders it writes, so without it the whole path is cleaned).
    A sibling folder whose name starts the same way ('unload2/') is another path."""
    for key in ["unload/0000_part_00", "unload/0003_part_07", "unload/notes.txt", "unload/sub/x",
                "unload2/x", "other/x"]:
        bucket.put(key, b"old")
    conn.execute(f"unload ('select venueid from {venue} where venueid = 4') to '{bucket.url('unload/')}' "
                 f"{ROLE} csv parallel off cleanpath")
    assert keys(bucket) == ["other/x", "unload/000", "unload2/x"]
    assert body(bucket, "unload/000") == b"4\n"


def test_without_cleanpath_nothing_is_removed(conn, bucket, venue):
    """r_UNLOAD (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html), ALLOWOVERWRITE overwrites
    the files UNLOAD writes and removes nothing else: a stale part from an earlier, larger unload stays."""
    for key in ["data0000_part_00", "data0001_part_00"]:
        bucket.put(key, b"old")
    conn.execute(f"unload ('select venueid from {venue} order by venueid') to '{bucket.url('data')}' "
                 f"{ROLE} csv allowoverwrite")
    assert keys(bucket) == ["data0000_part_00", "data0001_part_00"]
    assert body(bucket, "data0001_part_00") == b"old"
