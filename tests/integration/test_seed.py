"""Seeding a dataset folder into a real moto server process, then reading it back."""

from __future__ import annotations

import argparse
from pathlib import Path

import boto3
import pytest

from devstack.datagen import GenConfig, generate
from devstack.datagen.cli import register
from devstack.seed import seed_bucket
from tests.real_sample import real_sample_dir

pytestmark = pytest.mark.integration

def all_keys(client, bucket: str) -> set[str]:
    keys = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def data_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".md" and not p.relative_to(root).parts[0].startswith("truth")
    }


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    config = GenConfig(seed=21, days=2, events_per_day=200, users=15, songs=40, artists=25)
    out = generate(tmp_path_factory.mktemp("seed-data"), config, progress=False)
    # Large-run truth layout too, to prove truth_days/ is never uploaded; a schema note as the real
    # sample has, to prove .md files are not uploaded either.
    (out / "truth_days").mkdir()
    (out / "truth_days" / "2018-11-01.json").write_text("{}")
    (out / "SCHEMA.md").write_text("# notes, not data\n")
    return out


def test_seed_generated_dataset_round_trips(s3_server, small_dataset):
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    count = seed_bucket(small_dataset, "seed-generated", endpoint_url=s3_server.endpoint_url, progress=False)
    expected = data_files(small_dataset)
    assert count == len(expected) == 40 + 2 + 1
    keys = all_keys(client, "seed-generated")
    assert keys == expected
    assert "log_json_path.json" in keys and not any(k.startswith("truth") for k in keys)
    assert "SCHEMA.md" not in keys
    for key in ("log_json_path.json", "log_data/2018/11/2018-11-02-events.json", sorted(keys)[-1]):
        body = client.get_object(Bucket="seed-generated", Key=key)["Body"].read()
        assert body == (small_dataset / key).read_bytes(), key
    # Seeding again overwrites in place: same keys, same count.
    assert seed_bucket(small_dataset, "seed-generated", endpoint_url=s3_server.endpoint_url, progress=False) == count
    assert all_keys(client, "seed-generated") == expected


def test_seed_subcommand_uses_env_defaults(s3_server, small_dataset, monkeypatch, capsys):
    monkeypatch.setenv("SPARKIFY_S3_BUCKET", "seed-from-env")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["seed", "--from", str(small_dataset), "--no-progress"])
    assert args.func(args) == 0
    assert "seeded 43 files" in capsys.readouterr().out
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    assert len(all_keys(client, "seed-from-env")) == 43


def test_seed_subcommand_reports_a_missing_folder(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["seed", "--from", str(tmp_path / "nope"), "--no-progress"])
    assert args.func(args) == 2
    assert "no dataset" in capsys.readouterr().err


@pytest.fixture
def real_sample() -> Path:
    return real_sample_dir()


def test_seed_real_sample_as_is(s3_server, real_sample):
    count = seed_bucket(real_sample, "seed-real-sample", endpoint_url=s3_server.endpoint_url, progress=False)
    assert count == len(data_files(real_sample)) == 102  # 71 song files, 30 log files, log_json_path.json
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    keys = all_keys(client, "seed-real-sample")
    assert "SCHEMA.md" not in keys
    assert sum(k.startswith("song_data/") for k in keys) == 71
    assert sum(k.startswith("log_data/2018/11/") for k in keys) == 30
    key = "log_data/2018/11/2018-11-21-events.json"
    assert client.get_object(Bucket="seed-real-sample", Key=key)["Body"].read() == (real_sample / key).read_bytes()


LIVE_BASE = GenConfig(seed=42, days=1, events_per_day=100, users=10, songs=20, artists=10)


def test_live_days_upload_only_their_day_files_and_never_replace_a_datasets(s3_server, tmp_path):
    """A dataset holding today's file keeps it; yesterday (not in the dataset) gets a live file,
    replaced by the live days' own later uploads; no song file is uploaded."""
    from datetime import date

    from devstack.liveday import seed_live_days

    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    bucket, today = "seed-live", date(2026, 12, 3)
    theirs = GenConfig(seed=5, start_date=today, days=1, events_per_day=50, users=5, songs=10, artists=5)
    dataset = generate(tmp_path / "theirs", theirs, progress=False)
    seed_bucket(dataset, bucket, endpoint_url=s3_server.endpoint_url, progress=False)
    before = {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in all_keys(client, bucket)}
    today_key, yesterday_key = "log_data/2026/12/2026-12-03-events.json", "log_data/2026/12/2026-12-02-events.json"

    live = seed_live_days(tmp_path / "live", LIVE_BASE, bucket, endpoint_url=s3_server.endpoint_url, today=today)
    assert (live.uploaded, live.kept) == ([yesterday_key], [today_key])
    assert all_keys(client, bucket) == {*before, yesterday_key}
    assert {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in before} == before
    assert not (tmp_path / "live" / today_key).exists()  # a restore of the folder cannot upload it either

    # The next day the window moves: yesterday's key (the live days' own) is regenerated and replaced.
    tomorrow_key = "log_data/2026/12/2026-12-04-events.json"
    live = seed_live_days(tmp_path / "live", LIVE_BASE, bucket, endpoint_url=s3_server.endpoint_url,
                          today=date(2026, 12, 4))
    assert (live.uploaded, live.kept) == ([tomorrow_key], [today_key])
    assert client.get_object(Bucket=bucket, Key=today_key)["Body"].read() == before[today_key]
    uploaded = client.get_object(Bucket=bucket, Key=tomorrow_key)["Body"].read()
    assert uploaded == (tmp_path / "live" / tomorrow_key).read_bytes()
    # A day later 2026-12-04 is regenerated (as yesterday, other bytes): the live days' own key is replaced.
    live = seed_live_days(tmp_path / "live", LIVE_BASE, bucket, endpoint_url=s3_server.endpoint_url,
                          today=date(2026, 12, 5))
    assert live.kept == [] and tomorrow_key in live.uploaded
    replaced = client.get_object(Bucket=bucket, Key=tomorrow_key)["Body"].read()
    assert replaced != uploaded and replaced == (tmp_path / "live" / tomorrow_key).read_bytes()
    # Every key the live days ever uploaded is known (make airflow leaves them out of its hints), the kept one is not.
    assert live.ever_uploaded == [yesterday_key, tomorrow_key, "log_data/2026/12/2026-12-05-events.json"]
